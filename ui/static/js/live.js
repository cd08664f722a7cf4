// WebSocket client: reconnects by itself with backoff and reports its
// state, so the UI can say plainly when it is not live.

export class Live {
  constructor(topics) {
    this.topics = topics;
    this.handlers = new Map();
    this.retry = 0;
    this.closed = false;
    this.up = false;
    this.connect();
  }

  /** on('summary', fn) subscribes; the returned function unsubscribes. */
  on(type, fn) {
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(fn);
    return () => this.handlers.get(type).delete(fn);
  }

  emit(type, msg) {
    for (const fn of this.handlers.get(type) || []) {
      try { fn(msg); } catch (e) { console.warn('handler for', type, 'failed:', e); }
    }
  }

  connect() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}/ws?topics=${this.topics}`);
    this.ws = ws;
    ws.onopen = () => {
      this.retry = 0;
      this.up = true;
      this.emit('state', { up: true });
    };
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      this.emit(msg.type, msg);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      const wasUp = this.up;
      this.up = false;
      if (this.closed) return;
      const delay = Math.min(10000, 500 * 2 ** this.retry++);
      this.emit('state', { up: false, wasUp, retryIn: delay });
      this.timer = setTimeout(() => this.connect(), delay);
    };
    // onerror is always followed by onclose, which reconnects.
    ws.onerror = () => {};
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000, 'page left');
  }
}
