// The pack's workflow templates with their titles, one-line descriptions and animated
// thumbnails in ComfyUI's template browser, in the pack's order (its own demo first).
//
// ComfyUI lists a custom node pack's example_workflows/ by file name only (title and
// description both the file name, a .jpg thumbnail). Its richer format is the core templates'
// index; so the pack's entries from web/templates.json (written by scripts/make_workflows.py)
// join that index, under this pack's folder name, and leave the plain listing. Anything
// unexpected (no metadata, an older or newer frontend) leaves ComfyUI's own listing as it is.
import { api } from "../../scripts/api.js";

const here = new URL(".", import.meta.url);
const MODULE = decodeURIComponent(here.pathname.split("/").filter(Boolean).pop());   // the custom_nodes folder

let metadata = null;
function templates() {
  metadata ??= fetch(new URL("templates.json", here)).then((r) => (r.ok ? r.json() : null)).catch(() => null);
  return metadata;
}

/** Our entries (those the server lists, so every card has a workflow behind it) as a core index category. */
function category(meta, listed) {
  const names = new Set(listed);
  return {
    moduleName: MODULE,
    title: meta.title,
    type: "video",
    templates: meta.templates.filter((t) => names.has(t.name)).map((t) => ({ ...t, mediaType: "image" })),
  };
}

if (typeof api.getWorkflowTemplates === "function" && typeof api.getCoreWorkflowTemplates === "function") {
  const listing = api.getWorkflowTemplates.bind(api);
  const core = api.getCoreWorkflowTemplates.bind(api);

  api.getWorkflowTemplates = async () => {
    const all = await listing();
    if (!all?.[MODULE] || !(await templates())) return all;
    const { [MODULE]: ours, ...others } = all;   // listed below with their metadata instead
    return others;
  };

  api.getCoreWorkflowTemplates = async (locale) => {
    const index = await core(locale);
    const meta = await templates();
    if (!meta || !Array.isArray(index)) return index;
    const listed = (await listing())?.[MODULE] ?? [];
    return listed.length ? [...index, category(meta, listed)] : index;
  };
}
