// Which views a subscriber should see: the reconnect rule (drop what is not newer) as a small pure class.

/**
 * Tracks the version held per topic. Only newer versions pass, with one
 * exception: a `stock:changed` push is not the whole product view, and it can
 * arrive before the subscribe answer of the same version (the server joins the
 * topic before reading the view) — that answer still passes, once.
 *
 * @example
 * const gate = new VersionGate();
 * gate.accept('cart:c1', 3, true);  // true: the subscribe answer
 * gate.accept('cart:c1', 3, false); // false: a push we already have
 */
export class VersionGate {
  private readonly held = new Map<string, { version: number; complete: boolean }>();

  /**
   * `space` names whose version a push carries when it is not the topic's own (an offer's push on a product's
   * topic carries the offer's version): it is compared with that space's earlier pushes only.
   */
  accept(topic: string, version: number, isAnswer: boolean, space = ''): boolean {
    if (topic === 'shipments' || topic === 'offers' || topic === 'inspector') return true; // lists and streams, not versioned views
    const key = space === '' ? topic : `${topic}#${space}`;
    const complete = space === '' && (isAnswer || !topic.startsWith('product:'));
    const current = this.held.get(key);
    const newer = !current || version > current.version || (version === current.version && complete && !current.complete);
    if (newer) this.held.set(key, { version, complete });
    return newer;
  }

  forget(topic: string): void {
    this.held.delete(topic);
    for (const key of this.held.keys()) if (key.startsWith(`${topic}#`)) this.held.delete(key);
  }
}
