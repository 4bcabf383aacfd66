/**
 * Reading tools: the tool list, the two Cornerstone3D tool groups (stacks, MPR planes) and
 * ``ToolBox``, which owns the toolbar's tool buttons and the primary-button tool.
 */
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

import { el } from './dom.js';

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
 * A measurement drawn by another reader carries ``data.author`` (set by annotation-records.js):
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

/**
 * @typedef {object} ToolBoxDeps
 * @property {boolean} readonly measurement tools are hidden and refused
 * @property {HTMLElement} root where the arrow tool's text prompt opens
 * @property {() => boolean} mprActive whether the MPR planes are on screen
 * @property {(message: string) => void} notify
 */

/** The toolbar's tool buttons, the two tool groups and the tool on the primary button. */
export class ToolBox {
  /** @param {ToolBoxDeps} deps */
  constructor(deps) {
    this.deps = deps;
    /** @type {string | null} the tool on the primary button (null: W/L, the groups' default) */
    this.current = null;
    /** @type {import('@cornerstonejs/tools').Types.IToolGroup | null} */
    this.stackGroup = null;
    /** @type {import('@cornerstonejs/tools').Types.IToolGroup | null} */
    this.mprGroup = null;
    /** @type {Map<string, HTMLButtonElement>} */
    this.buttons = new Map();
    for (const t of TOOLS) {
      const b = el(
        'button',
        {
          type: 'button',
          class: 'vw-tool',
          title: `${t.title} (${t.key.toUpperCase()})`,
          dataset: { tool: t.id },
          onclick: (e) => {
            e.currentTarget.blur();
            this.select(t.id);
          },
        },
        t.label,
      );
      if (t.mprOnly || (t.measure && deps.readonly)) b.hidden = true;
      this.buttons.set(t.id, b);
    }
  }

  /** Once Cornerstone's tools are initialised: the stack and the MPR tool groups. */
  createGroups() {
    registerTools();
    const ask = (label, initial) => this.askText(label, initial);
    this.stackGroup = createStackToolGroup('rr-stack', ask);
    this.mprGroup = createMprToolGroup('rr-mpr', ask);
  }

  /** Put tool ``id`` (see ``TOOLS``) on the primary button of both groups. */
  select(id) {
    const tool = TOOLS.find((t) => t.id === id);
    if (!tool) return;
    if (tool.measure && this.deps.readonly) {
      this.deps.notify('Read-only: measurements are off while someone else reads this study');
      return;
    }
    if (tool.mprOnly && !this.deps.mprActive()) return;
    setPrimaryTool(this.stackGroup, tool.name);
    setPrimaryTool(this.mprGroup, tool.name);
    this.current = id;
    for (const [tid, b] of this.buttons) b.classList.toggle('on', tid === id);
  }

  /** MPR on: crosshairs offered; off: hidden again, and W/L back if they were in use. */
  setMprMode(on) {
    this.buttons.get('crosshairs').hidden = !on;
    if (!on && this.current === 'crosshairs') this.select('wl');
  }

  /** A small text prompt over the viewer (the arrow tool's text); null when cancelled. */
  askText(label, initial = '') {
    return new Promise((resolve) => {
      const input = el('input', { type: 'text', value: initial, 'aria-label': label });
      const finish = (value) => {
        dialog.remove();
        resolve(value);
      };
      const dialog = el(
        'form',
        {
          class: 'vw-ask',
          onsubmit: (e) => {
            e.preventDefault();
            finish(input.value);
          },
        },
        el('label', {}, label, input),
        el('button', { type: 'submit', class: 'primary' }, 'OK'),
        el('button', { type: 'button', onclick: () => finish(null) }, 'Cancel'),
      );
      this.deps.root.append(dialog);
      input.focus();
    });
  }
}
