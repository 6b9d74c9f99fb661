// The server's answers for the filter's h: and body: tokens: which stored exchanges
// pass each one (GET exchanges/matching/?filter=TOKEN&after=SEQ, traffic/search.py).
// Summaries carry no headers or bodies, so the page asks; each token is asked alone and
// kept as a set of seqs, so negation and every other token stay with filters.js. An
// exchange newer than a token's answer is "not known yet" (it waits, unlisted) until the
// next question, asked at most every ASK_EVERY_MS while new rows arrive.
import { api } from "./api.js";

const ASK_EVERY_MS = 500;

export class ByteTerms {
  // url: the exchanges API; changed(): the answers changed, or a question failed (then
  // `error` says why until the next answer).
  constructor(url, changed) {
    Object.assign(this, { url, changed });
    this.error = null;
    this.answers = new Map(); // token -> {seqs: Set, last: seq answered up to, asking}
    this.timer = 0;
    this.said = (text, seq) => {
      const answer = this.answers.get(text);
      if (!answer || answer.last == null || seq > answer.last) return undefined;
      return answer.seqs.has(seq);
    };
  }

  // The tokens the filter has now: forget the others, ask about the new ones.
  want(tokens) {
    for (const text of [...this.answers.keys()]) if (!tokens.includes(text)) this.answers.delete(text);
    if (!tokens.length) this.error = null;
    for (const text of tokens) {
      if (!this.answers.has(text)) {
        this.answers.set(text, { seqs: new Set(), last: null, asking: false });
        this.ask(text);
      }
    }
  }

  waiting() {
    return [...this.answers.values()].some((a) => a.last == null);
  }

  // New exchanges up to `newest` arrived: ask about them (soon, once for many).
  arrived(newest) {
    if (this.timer || ![...this.answers.values()].some((a) => a.last != null && a.last < newest)) return;
    this.timer = setTimeout(() => {
      this.timer = 0;
      for (const [text, a] of this.answers) if (a.last != null && a.last < newest) this.ask(text);
    }, ASK_EVERY_MS);
  }

  async ask(text) {
    const answer = this.answers.get(text);
    if (!answer || answer.asking) return;
    answer.asking = true;
    try {
      const q = "matching/?filter=" + encodeURIComponent(text) + "&after=" + (answer.last || 0);
      const got = await api("GET", this.url + q);
      if (this.answers.get(text) !== answer) return; // the filter changed meanwhile
      for (const seq of got.seqs) answer.seqs.add(seq);
      answer.last = got.last_seq;
      this.error = null;
      this.changed();
    } catch (err) {
      if (this.answers.get(text) !== answer) return;
      this.error = err.message;
      this.changed();
    } finally {
      answer.asking = false;
    }
  }
}
