/**
 * The report editor: CodeMirror 6 bound to the report's ``Y.Text`` (y-codemirror.next:
 * shared text, remote cursors, undo of one's own edits only), with the report's keys:
 * Tab / Shift-Tab jump to the next / previous «…» field and select it (a pick list opens
 * its chooser), ``;name`` + Tab expands a macro. ``insert`` and ``command`` are what the
 * viewer's 'report-insert' and 'report-command' events do.
 */
import { Compartment, EditorSelection, EditorState, Prec } from '@codemirror/state';
import { defaultKeymap } from '@codemirror/commands';
import {
  Decoration, EditorView, MatchDecorator, ViewPlugin, drawSelection, keymap, placeholder,
} from '@codemirror/view';
import { yCollab, yUndoManagerKeymap } from 'y-codemirror.next';
import * as Y from 'yjs';

import { el } from '../dom.js';
import {
  HEADING, fieldAt, fields, headings, nextField, normaliseSection, sectionTarget, separator,
} from './text_ops.js';

const fieldMarks = new MatchDecorator({
  regexp: /«[^«»\n]*»/g,
  decoration: (m) => Decoration.mark({ class: m[0].includes('|') ? 'cm-rr-field cm-rr-pick' : 'cm-rr-field' }),
});
const headingLine = Decoration.line({ class: 'cm-rr-heading' });

const reportMarks = ViewPlugin.fromClass(
  class {
    constructor(view) {
      this.fields = fieldMarks.createDeco(view);
      this.decorations = this.build(view);
    }
    update(update) {
      this.fields = fieldMarks.updateDeco(update, this.fields);
      if (update.docChanged || update.viewportChanged) this.decorations = this.build(update.view);
    }
    build(view) {
      const ranges = [];
      for (const { from, to } of view.visibleRanges) {
        for (let pos = from; pos <= to;) {
          const line = view.state.doc.lineAt(pos);
          if (HEADING.test(line.text)) ranges.push(headingLine.range(line.from));
          pos = line.to + 1;
        }
      }
      this.fields.between(0, view.state.doc.length, (from, to, value) => {
        ranges.push(value.range(from, to));
      });
      return Decoration.set(ranges, true);
    }
  },
  { decorations: (v) => v.decorations },
);

const normaliseMacro = (name) => String(name || '').toLowerCase().replace(/[\s_-]+/g, ' ').trim();

export class ReportEditor {
  /**
   * @param {HTMLElement} parent
   * @param {{ytext: Y.Text, awareness: any, macros: () => Promise<any[]>, notify: (m: string) => void}} options
   */
  constructor(parent, { ytext, awareness, macros, notify }) {
    this.ytext = ytext;
    this.macros = macros;
    this.notify = notify;
    this.readOnly = new Compartment();
    this.undoManager = new Y.UndoManager(ytext);
    this.dictated = []; // relative positions of recent dictated inserts, for "scratch that"
    this.chooser = null;
    const keys = [
      { key: 'Tab', run: () => this.tab(1) },
      { key: 'Shift-Tab', run: () => this.tab(-1) },
      { key: 'ArrowDown', run: () => this.chooserMove(1) },
      { key: 'ArrowUp', run: () => this.chooserMove(-1) },
      { key: 'Enter', run: () => this.chooserPick() },
      { key: 'Escape', run: () => this.closeChooser() },
    ];
    this.view = new EditorView({
      parent,
      state: EditorState.create({
        doc: ytext.toString(),
        extensions: [
          Prec.highest(keymap.of(keys)),
          keymap.of([...yUndoManagerKeymap, ...defaultKeymap]),
          drawSelection(),
          EditorView.lineWrapping,
          placeholder('Report text…'),
          reportMarks,
          this.readOnly.of([EditorState.readOnly.of(false), EditorView.editable.of(true)]),
          yCollab(ytext, awareness, { undoManager: this.undoManager }),
          EditorView.updateListener.of((u) => {
            if (u.selectionSet && this.chooser && !u.docChanged) this.closeChooserUnlessOnField();
          }),
        ],
      }),
    });
  }

  get text() {
    return this.view.state.doc.toString();
  }

  setReadOnly(on) {
    this.closeChooser();
    this.view.dispatch({
      effects: this.readOnly.reconfigure([EditorState.readOnly.of(on), EditorView.editable.of(!on)]),
    });
    this.view.dom.classList.toggle('cm-rr-readonly', on);
  }

  get isReadOnly() {
    return this.view.state.readOnly;
  }

  focus() {
    this.view.focus();
  }

  /** Select the next (or previous) field; a pick list shows its options. */
  jumpField(dir = 1) {
    const { state } = this.view;
    const sel = state.selection.main;
    const field = nextField(this.text, dir > 0 ? sel.to : sel.from, dir);
    if (!field) return false;
    // Already on it (just selected): move on.
    const target = field.from === sel.from && field.to === sel.to
      ? nextField(this.text, dir > 0 ? field.to : field.from, dir)
      : field;
    this.view.dispatch({ selection: EditorSelection.range(target.from, target.to), scrollIntoView: true });
    if (target.kind === 'choice' && !this.isReadOnly) this.openChooser(target);
    else this.closeChooser();
    return true;
  }

  tab(dir) {
    if (dir > 0 && this.expandTypedMacro()) return true;
    this.jumpField(dir);
    return true; // Tab never leaves the editor: it is the field key here
  }

  /** ``;name`` right before the cursor: replace it with the macro's text. */
  expandTypedMacro() {
    const { state } = this.view;
    const sel = state.selection.main;
    if (!sel.empty) return false;
    const line = state.doc.lineAt(sel.head);
    const m = line.text.slice(0, sel.head - line.from).match(/;([\w-]+)$/);
    if (!m) return false;
    this.macros().then((list) => {
      const macro = list.find((x) => normaliseMacro(x.name) === normaliseMacro(m[1]));
      if (!macro) {
        this.notify(`No macro named “${m[1]}”.`);
        return;
      }
      const from = sel.head - m[0].length;
      if (state.sliceDoc(from, sel.head) !== this.view.state.sliceDoc(from, sel.head)) return;
      this.replaceRange(from, sel.head, macro.text);
    });
    return true;
  }

  replaceRange(from, to, text) {
    this.view.dispatch({
      changes: { from, to, insert: text },
      selection: EditorSelection.cursor(from + text.length),
      scrollIntoView: true,
    });
  }

  /**
   * Insert ``text`` at the local cursor (replacing a selected field), joined to what is
   * before it (``meta.join``: 'space' | 'attach' | 'none' | 'line').
   * @param {{text: string, source?: string, meta?: any}} detail
   */
  insert({ text, source, meta = {} }) {
    if (!text || this.isReadOnly) return false;
    const { state } = this.view;
    const sel = state.selection.main;
    const onField = !sel.empty && fieldAt(this.text, sel.from, sel.to);
    const join = onField ? 'none' : meta.join || 'space';
    const before = state.sliceDoc(Math.max(0, sel.from - 1), sel.from);
    const insert = separator(before, join) + text;
    this.view.dispatch({
      changes: { from: sel.from, to: sel.to, insert },
      selection: EditorSelection.cursor(sel.from + insert.length),
      scrollIntoView: true,
      userEvent: 'input.dictation',
    });
    this.closeChooser();
    if (source === 'dictation') {
      this.dictated.push([
        Y.createRelativePositionFromTypeIndex(this.ytext, sel.from),
        Y.createRelativePositionFromTypeIndex(this.ytext, sel.from + insert.length, -1),
      ]);
      if (this.dictated.length > 20) this.dictated.shift();
    }
    return true;
  }

  /** "Scratch that": remove the last dictated insertion (wherever it is now). */
  scratch() {
    const last = this.dictated.pop();
    if (!last || this.isReadOnly) return false;
    const doc = this.ytext.doc;
    const [from, to] = last.map((rel) => Y.createAbsolutePositionFromRelativePosition(rel, doc)?.index);
    if (from === undefined || to === undefined || to <= from) return false;
    this.view.dispatch({ changes: { from, to }, selection: EditorSelection.cursor(from), userEvent: 'delete.dictation' });
    return true;
  }

  /** Put the cursor at the end of section ``name``, adding the heading when missing. */
  goToSection(name) {
    const target = sectionTarget(this.text, name);
    if (target.insert && !this.isReadOnly) {
      const { at, text, replaceTo } = target.insert;
      const cursor = target.after ?? target.cursor;
      this.view.dispatch({
        changes: { from: at, to: replaceTo ?? at, insert: text },
        selection: EditorSelection.cursor(cursor),
        scrollIntoView: true,
      });
    } else {
      this.view.dispatch({ selection: EditorSelection.cursor(target.cursor), scrollIntoView: true });
    }
    this.closeChooser();
    return true;
  }

  /** Select the first blank field of section ``name`` (an insert then replaces it). */
  selectBlankInSection(name) {
    const text = this.text;
    const all = headings(text);
    const index = all.findIndex((h) => h.name === normaliseSection(name));
    if (index < 0) return false;
    const end = index + 1 < all.length ? all[index + 1].from : text.length;
    const blank = fields(text).find((f) => f.kind === 'blank' && f.from > all[index].to && f.to <= end);
    if (!blank) return false;
    this.view.dispatch({ selection: EditorSelection.range(blank.from, blank.to), scrollIntoView: true });
    return true;
  }

  async expandMacro(name) {
    const list = await this.macros();
    const macro = list.find((x) => normaliseMacro(x.name) === normaliseMacro(name));
    if (!macro) {
      this.notify(`No macro named “${name}”.`);
      return false;
    }
    return this.insert({ text: macro.text, source: 'macro', meta: { join: 'space' } });
  }

  // -- the pick-list chooser ---------------------------------------------------------------

  openChooser(field) {
    this.closeChooser();
    const coords = this.view.coordsAtPos(field.from);
    const box = this.view.dom.getBoundingClientRect();
    const list = el('ul', { class: 'rr-chooser', role: 'listbox', 'aria-label': 'Choose' });
    field.options.forEach((option, i) => {
      list.append(el('li', {
        role: 'option',
        class: i === 0 ? 'on' : '',
        dataset: { index: String(i) },
        onmousedown: (e) => {
          e.preventDefault();
          this.chooser.index = i;
          this.chooserPick();
        },
      }, option || '(empty)'));
    });
    if (coords) {
      list.style.left = `${Math.max(0, coords.left - box.left)}px`;
      list.style.top = `${coords.bottom - box.top + 2}px`;
    }
    this.view.dom.append(list);
    this.chooser = { field, list, index: 0 };
  }

  closeChooser() {
    this.chooser?.list.remove();
    this.chooser = null;
    return false;
  }

  closeChooserUnlessOnField() {
    const sel = this.view.state.selection.main;
    const { field } = this.chooser;
    if (sel.from !== field.from || sel.to !== field.to) this.closeChooser();
  }

  chooserMove(step) {
    if (!this.chooser) return false;
    const { list, field } = this.chooser;
    this.chooser.index = (this.chooser.index + step + field.options.length) % field.options.length;
    [...list.children].forEach((li, i) => li.classList.toggle('on', i === this.chooser.index));
    return true;
  }

  chooserPick() {
    if (!this.chooser) return false;
    const { field, index } = this.chooser;
    const current = fieldAt(this.text, field.from, field.to);
    this.closeChooser();
    if (!current || current.raw !== field.raw) return true;
    this.replaceRange(field.from, field.to, field.options[index]);
    return true;
  }

  destroy() {
    this.closeChooser();
    this.view.destroy();
    this.undoManager.destroy();
  }
}
