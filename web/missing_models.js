// Queueing a workflow of this pack whose files are missing (a Wan template before its
// downloads) shows ComfyUI's own missing-model dialog, with each file's download link and
// folder, on top of the validation error, not only when the workflow is loaded.
// The files are those its nodes declare in properties.models (as ComfyUI's templates do).
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";

/** The declared files ({name, url, directory}) of the workflow's pack nodes' graph that the server lacks. */
async function missingFiles(workflow) {
  const nodes = workflow?.nodes ?? [];
  if (!nodes.some((n) => String(n.type).startsWith("StreamDiT"))) return [];
  const wanted = new Map();
  for (const node of nodes) {
    const values = new Set(Object.values(node.widgets_values ?? {}).filter((v) => typeof v === "string"));
    for (const model of node.properties?.models ?? []) {
      if (values.has(model.name) && model.url && model.directory) wanted.set(model.name, model);
    }
  }
  const missing = [];
  for (const directory of new Set([...wanted.values()].map((m) => m.directory))) {
    const reply = await api.fetchApi(`/models/${encodeURIComponent(directory)}`);
    const present = new Set(reply.ok ? await reply.json() : []);
    for (const model of wanted.values()) {
      if (model.directory === directory && !present.has(model.name)) missing.push(model);
    }
  }
  return missing;
}

function refusedForAValueNotInList(error) {
  return Object.values(error?.response?.node_errors ?? {})
    .some((node) => (node.errors ?? []).some((e) => e.type === "value_not_in_list"));
}

if (typeof api.queuePrompt === "function" && typeof app.showMissingModelsError === "function") {
  const queue = api.queuePrompt.bind(api);
  api.queuePrompt = async (number, data, ...rest) => {
    try {
      return await queue(number, data, ...rest);
    } catch (error) {
      if (refusedForAValueNotInList(error)) {
        const missing = await missingFiles(data?.workflow).catch(() => []);
        // after this call returns, so that it opens over ComfyUI's validation error
        if (missing.length) setTimeout(async () => app.showMissingModelsError(missing, await api.getFolderPaths()), 0);
      }
      throw error;
    }
  };
}
