// The people panel: who else is in the world (a coloured chip per participant,
// with what they have selected), and the chat. Lines arrive from the live
// protocol; this only draws them, with textContent (never markup), and keeps the
// last CHAT_LINES_MAX.

import { h } from './dom';
import type { Participant } from './overlays';

/** Chat lines kept on the page. */
const CHAT_LINES_MAX = 200;
/** Longest chat line the protocol accepts, in UTF-8 bytes. */
export const CHAT_BYTES_MAX = 1_024;

export interface ChatLine {
  participantId: string;
  name: string;
  color: string;
  text: string;
  at: number;
}

export class Social {
  readonly element: HTMLElement;
  private readonly people: HTMLElement;
  private readonly lines: HTMLElement;
  private readonly input: HTMLInputElement;
  private readonly error: HTMLElement;
  private readonly count: HTMLElement;
  private open = true;
  /** Sends a line; resolves when the server took it, rejects with a sentence. */
  onSend: (text: string) => Promise<void> = async () => {};
  onGoTo: (twinId: string) => void = () => {};

  constructor(private readonly me: { name: string; color: string }) {
    this.people = h('div', { class: 'people', id: 'people' });
    this.lines = h('ol', { class: 'lines', id: 'chat-lines', 'aria-live': 'polite' });
    this.input = h('input', { type: 'text', id: 'chat-input', placeholder: 'Message everyone here…', maxlength: 500, autocomplete: 'off', 'aria-label': 'Chat message' });
    this.error = h('div', { class: 'chat-error', role: 'alert', hidden: true });
    this.count = h('span', { class: 'count', id: 'people-count' }, '');
    const form = h(
      'form',
      {
        onsubmit: (e: Event) => {
          e.preventDefault();
          void this.send();
        },
      },
      this.input,
      h('button', { type: 'submit' }, 'Send'),
    );
    const body = h('div', { class: 'body' }, this.people, this.lines, this.error, form);
    const toggle = h(
      'button',
      {
        type: 'button',
        class: 'head',
        onclick: () => {
          this.open = !this.open;
          body.hidden = !this.open;
          toggle.classList.toggle('closed', !this.open);
        },
      },
      h('span', { class: 'me', style: `background:${me.color}` }),
      h('span', {}, 'People & chat'),
      this.count,
    );
    this.element = h('section', { id: 'social', 'aria-label': 'People and chat' }, toggle, body);
    this.setPeople([]);
  }

  private async send(): Promise<void> {
    const text = this.input.value.trim();
    if (!text) return;
    if (new TextEncoder().encode(text).length > CHAT_BYTES_MAX) {
      this.showError(`A message may be at most ${CHAT_BYTES_MAX} bytes.`);
      return;
    }
    this.input.disabled = true;
    try {
      await this.onSend(text);
      this.input.value = '';
      this.error.hidden = true;
    } catch (error) {
      this.showError(error instanceof Error ? error.message : String(error));
    } finally {
      this.input.disabled = false;
      this.input.focus();
    }
  }

  showError(message: string): void {
    this.error.textContent = message;
    this.error.hidden = false;
  }

  setPeople(others: Participant[], names: (id: string) => string = (id) => id): void {
    const me = h('li', { class: 'person me-row' }, h('span', { class: 'chip', style: `background:${this.me.color}` }), h('span', { class: 'name' }, `${this.me.name} (you)`));
    const rows = others
      .slice()
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((p) =>
        h(
          'li',
          { class: 'person', 'data-participant': p.id },
          h('span', { class: 'chip', style: `background:${p.color}` }),
          h('span', { class: 'name' }, p.name),
          p.selected ? h('button', { type: 'button', class: 'sel', title: 'Go to what they selected', onclick: () => this.onGoTo(p.selected) }, `→ ${names(p.selected)}`) : null,
        ),
      );
    this.people.replaceChildren(h('ul', {}, me, ...rows));
    this.count.textContent = others.length ? `${others.length + 1} here` : 'only you';
  }

  add(line: ChatLine): void {
    const time = new Date(line.at).toLocaleTimeString('en-GB', { hour12: false, hour: '2-digit', minute: '2-digit' });
    this.lines.append(
      h('li', {}, h('span', { class: 'who', style: `color:${line.color}` }, line.name), h('span', { class: 'text' }, line.text), h('time', {}, time)),
    );
    while (this.lines.childElementCount > CHAT_LINES_MAX) this.lines.firstElementChild?.remove();
    this.lines.scrollTop = this.lines.scrollHeight;
  }

  /** Live features are off (no live connection): chat says why. */
  setAvailable(available: boolean, why = ''): void {
    this.input.disabled = !available;
    this.input.placeholder = available ? 'Message everyone here…' : why || 'Chat needs the live connection.';
  }
}
