/** Reading tools: Cornerstone3D tool groups, the primary-button tool, W/L presets. */
import { utilities as csUtils } from '@cornerstonejs/core';
import {
  addTool,
  ToolGroupManager,
  WindowLevelTool,
  PanTool,
  ZoomTool,
  StackScrollTool,
  LengthTool,
  AngleTool,
  EllipticalROITool,
  RectangleROITool,
  ProbeTool,
  ArrowAnnotateTool,
  CrosshairsTool,
  Enums as toolEnums,
} from '@cornerstonejs/tools';
const { MouseBindings } = toolEnums;

/** Tools that can take the primary (left) mouse button; `measure` ones are saved as data. */
export const TOOLS = [
  { id: 'wl', name: WindowLevelTool.toolName, label: 'W/L', key: 'w', title: 'Window / level' },
  { id: 'zoom', name: ZoomTool.toolName, label: 'Zoom', key: 'z', title: 'Zoom' },
  { id: 'pan', name: PanTool.toolName, label: 'Pan', key: 'p', title: 'Pan' },
  { id: 'scroll', name: StackScrollTool.toolName, label: 'Scroll', key: 's', title: 'Scroll by drag' },
  { id: 'length', name: LengthTool.toolName, label: 'Length', key: 'l', measure: true, title: 'Length' },
  { id: 'angle', name: AngleTool.toolName, label: 'Angle', key: 'a', measure: true, title: 'Angle' },
  { id: 'ellipse', name: EllipticalROITool.toolName, label: 'Ellipse', key: 'e', measure: true, title: 'Elliptical ROI (mean/SD)' },
  { id: 'rect', name: RectangleROITool.toolName, label: 'Rect', key: 'r', measure: true, title: 'Rectangular ROI (mean/SD)' },
  { id: 'probe', name: ProbeTool.toolName, label: 'Probe', key: 'b', measure: true, title: 'Probe' },
  { id: 'arrow', name: ArrowAnnotateTool.toolName, label: 'Arrow', key: 't', measure: true, title: 'Arrow with text' },
  { id: 'crosshairs', name: CrosshairsTool.toolName, label: 'Crosshairs', key: 'c', mprOnly: true, title: 'MPR crosshairs' },
];

export const MEASUREMENT_TOOL_NAMES = new Set(TOOLS.filter((t) => t.measure).map((t) => t.name));

/**
 * Window presets (width, center) per modality, bound to the number keys. CT values are
 * Hounsfield units, meaningful on every CT; MR and projection images have no absolute
 * scale, so they get none and keep the image's own window (Window Center/Width or VOI
 * LUT, PS3.3 C.11.2), which "Reset" (0) and the "Default" button restore.
 */
export const PRESETS_BY_MODALITY = {
  CT: [
    { key: '1', id: 'lung', label: 'Lung', width: 1500, center: -600 },
    { key: '2', id: 'mediastinum', label: 'Mediastinum', width: 350, center: 50 },
    { key: '3', id: 'bone', label: 'Bone', width: 2000, center: 500 },
    { key: '4', id: 'brain', label: 'Brain', width: 80, center: 40 },
    { key: '5', id: 'abdomen', label: 'Abdomen', width: 400, center: 50 },
  ],
};

/** Every preset of every modality (the help overlay lists them). */
export const PRESETS = Object.entries(PRESETS_BY_MODALITY).flatMap(([modality, list]) =>
  list.map((p) => ({ ...p, modality })),
);

/** The presets that apply to a series of ``modality`` (none when its values have no scale). */
export function presetsFor(modality) {
  return PRESETS_BY_MODALITY[modality] || [];
}

export function voiFromPreset(preset) {
  // The DICOM linear VOI function's range (PS3.3 C.11.2.1.2), so the overlay reads W/L back exactly.
  return csUtils.windowLevel.toLowHighRange(preset.width, preset.center);
}

/** The preset of ``presets`` whose window ``voiRange`` is, if any. */
export function activePreset(presets, voiRange) {
  if (!voiRange) return null;
  return (
    presets.find((p) => {
      const r = voiFromPreset(p);
      return Math.abs(r.lower - voiRange.lower) < 0.5 && Math.abs(r.upper - voiRange.upper) < 0.5;
    }) || null
  );
}

let registered = false;

export function registerTools() {
  if (registered) return;
  registered = true;
  for (const tool of [
    WindowLevelTool, PanTool, ZoomTool, StackScrollTool, LengthTool, AngleTool,
    EllipticalROITool, RectangleROITool, ProbeTool, ArrowAnnotateTool, CrosshairsTool,
  ]) {
    addTool(tool);
  }
}

/**
 * A measurement drawn by another reader carries ``data.author`` (set by annotations-sync):
 * one quiet extra line under the value in its text box, so that in a shared session each
 * reader's marks can be told apart on the image. Your own carry none. An AI box carries
 * ``data.caption`` (ai/boxes.js: "AI", its review state, its label): the first line, so
 * the box says what it is and that it came from the model.
 */
function labelAuthors(group) {
  for (const tool of [LengthTool, AngleTool, EllipticalROITool, RectangleROITool, ProbeTool]) {
    const instance = group.getToolInstance(tool.toolName);
    const base = instance?.configuration?.getTextLines;
    if (typeof base !== 'function') continue;
    instance.configuration.getTextLines = (data, targets) => {
      const lines = base(data, targets);
      if (!lines && !data?.caption) return lines;
      return [...(data?.caption ? [data.caption] : []), ...(lines || []), ...(data?.author ? [data.author] : [])];
    };
  }
}

function addReadingTools(group, askText) {
  group.addTool(WindowLevelTool.toolName);
  group.addTool(PanTool.toolName);
  group.addTool(ZoomTool.toolName);
  group.addTool(StackScrollTool.toolName);
  group.addTool(LengthTool.toolName);
  group.addTool(AngleTool.toolName);
  group.addTool(EllipticalROITool.toolName);
  group.addTool(RectangleROITool.toolName);
  group.addTool(ProbeTool.toolName);
  group.addTool(ArrowAnnotateTool.toolName, {
    getTextCallback: (done) => askText('Arrow text').then((text) => done(text ?? '')),
    changeTextCallback: (data, eventData, done) =>
      askText('Arrow text', data.text).then((text) => done(text ?? data.text)),
  });
  group.setToolActive(PanTool.toolName, { bindings: [{ mouseButton: MouseBindings.Auxiliary }] });
  group.setToolActive(ZoomTool.toolName, { bindings: [{ mouseButton: MouseBindings.Secondary }] });
  group.setToolActive(StackScrollTool.toolName, { bindings: [{ mouseButton: MouseBindings.Wheel }] });
  for (const t of TOOLS) {
    if (t.measure) group.setToolPassive(t.name);
  }
  labelAuthors(group);
}

export function createStackToolGroup(id, askText) {
  const group = ToolGroupManager.createToolGroup(id);
  addReadingTools(group, askText);
  group.setToolActive(WindowLevelTool.toolName, { bindings: [{ mouseButton: MouseBindings.Primary }] });
  return group;
}

export function createMprToolGroup(id, askText) {
  const group = ToolGroupManager.createToolGroup(id);
  addReadingTools(group, askText);
  group.addTool(CrosshairsTool.toolName, {
    getReferenceLineColor: (viewportId) =>
      ({ 'mpr-axial': '#e5534b', 'mpr-sagittal': '#e0b341', 'mpr-coronal': '#3fb950' })[viewportId],
    getReferenceLineControllable: () => true,
    getReferenceLineDraggableRotatable: () => true,
    getReferenceLineSlabThicknessControlsOn: () => false,
  });
  group.setToolActive(CrosshairsTool.toolName, { bindings: [{ mouseButton: MouseBindings.Primary }] });
  return group;
}

/** Give ``toolName`` the primary button in ``group``; the previous one goes passive. */
export function setPrimaryTool(group, toolName) {
  if (!group || !group.hasTool(toolName)) return false;
  const current = group.getActivePrimaryMouseButtonTool();
  if (current === toolName) return true;
  if (current) group.setToolPassive(current);
  group.setToolActive(toolName, { bindings: [{ mouseButton: MouseBindings.Primary }] });
  return true;
}
