// Lays out a workflow in ComfyUI's own frontend (run by scripts/make_workflows.py in headless
// Chromium), so node sizes are the frontend's: a Markdown note at the top, then one group per stage,
// left to right, its nodes stacked; returns the serialized UI workflow.
// ({ui, stages: [{title, nodes: [ids], color}], note, sizes: {id: [w, h]}}) => workflow JSON
async ({ ui, stages, note, sizes }) => {
  const GAP = 30, PAD = 14, MARGIN = 40, NOTE = 170;
  await window.app.loadGraphData(ui, true, true, null, { showMissingModelsDialog: false, showMissingNodesDialog: false });
  const graph = window.app.graph;
  const title = window.LiteGraph.NODE_TITLE_HEIGHT;
  const groupTitle = 34;

  const notes = window.LiteGraph.createNode("MarkdownNote");
  notes.widgets[0].value = note;
  graph.add(notes);

  let x = MARGIN;
  const top = MARGIN + NOTE + GAP;
  let bottom = top;
  for (const stage of stages) {
    const nodes = stage.nodes.map((id) => graph.getNodeById(Number(id)));
    const width = Math.max(...nodes.map((n) => Math.max(n.computeSize()[0], (sizes[n.id] ?? [0])[0], 280)));
    let y = top + groupTitle + PAD + title;
    for (const node of nodes) {
      const wanted = sizes[node.id] ?? [0, 0];
      node.size = [width, Math.max(node.computeSize()[1], wanted[1])];
      node.pos = [x + PAD, y];
      y += node.size[1] + title + GAP;
    }
    const group = new window.LiteGraph.LGraphGroup(stage.title, undefined);
    group.color = stage.color;
    graph.add(group);
    group.pos = [x, top];
    group.size = [width + 2 * PAD, y - title - GAP + PAD - top];
    bottom = Math.max(bottom, top + group.size[1]);
    x += width + 2 * PAD + GAP;
  }
  notes.pos = [MARGIN, MARGIN + title];
  notes.size = [x - GAP - MARGIN, NOTE - title];
  graph.setDirtyCanvas(true, true);
  // the saved view: right of ComfyUI's side bar, below its top bar, all of it in 1300 x 680 pixels
  // where that leaves the text readable (a larger workflow continues to the right)
  const scale = Math.max(0.75, Math.min(0.9, 1300 / (x + MARGIN), 680 / (bottom + MARGIN)));
  const workflow = graph.serialize();
  workflow.extra = { ...(workflow.extra ?? {}), ds: { scale, offset: [80 / scale - MARGIN, 130 / scale - MARGIN] } };
  return JSON.parse(JSON.stringify(workflow));   // without the undefined fields ComfyUI's schema refuses as null
}
