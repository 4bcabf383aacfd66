/** A tiny event emitter: the viewer's public event interface (see viewer.js). */
export class Emitter {
  constructor() {
    this._handlers = new Map();
  }

  on(type, handler) {
    if (!this._handlers.has(type)) this._handlers.set(type, new Set());
    this._handlers.get(type).add(handler);
    return () => this.off(type, handler);
  }

  off(type, handler) {
    this._handlers.get(type)?.delete(handler);
  }

  emit(type, detail) {
    for (const handler of this._handlers.get(type) || []) {
      try {
        handler(detail);
      } catch (err) {
        console.error(`viewer: '${type}' handler failed`, err);
      }
    }
  }
}
