// The time bar: a slider over a recent window (15 min, 1 h, 24 h) to go back to
// any instant, play from there at 1×, 10× or 60×, and a button back to live. It
// says plainly what the view shows: a green LIVE, or REPLAY with the instant in
// amber. It owns only time: the client is told where to go (`onSeek`) and
// when to return (`onLive`), and loads the world's state itself.

import { h } from './dom';

/** How often a playing replay moves on (and the client loads the state there). */
const STEP_MS = 1_000;
/** Slider resolution: one step per this many milliseconds of the window, at least a second. */
const SLIDER_STEPS = 1_000;

const WINDOWS: Array<{ key: string; label: string; ms: number }> = [
  { key: '15m', label: 'last 15 min', ms: 15 * 60_000 },
  { key: '1h', label: 'last hour', ms: 3_600_000 },
  { key: '24h', label: 'last 24 h', ms: 86_400_000 },
];
export const SPEEDS = [1, 10, 60];

export class Timeline {
  readonly element: HTMLElement;
  private readonly badge: HTMLElement;
  private readonly when: HTMLElement;
  private readonly slider: HTMLInputElement;
  private readonly play: HTMLButtonElement;
  private readonly live: HTMLButtonElement;
  private readonly speedSelect: HTMLSelectElement;
  private readonly windowSelect: HTMLSelectElement;
  private timer = 0;
  /** The instant shown, or null when live. */
  at: Date | null = null;
  playing = false;
  speed = 1;
  private busy = false;
  onSeek: (at: Date) => Promise<void> = async () => {};
  onLive: () => void = () => {};

  constructor() {
    this.badge = h('span', { class: 'badge live', id: 'time-badge' }, 'LIVE');
    this.when = h('span', { class: 'when', id: 'time-when' }, 'now');
    this.slider = h('input', { type: 'range', min: 0, max: SLIDER_STEPS, value: SLIDER_STEPS, step: 1, 'aria-label': 'Time', id: 'time-slider' });
    this.play = h('button', { type: 'button', id: 'time-play', title: 'Replay from the chosen instant' }, '▶');
    this.live = h('button', { type: 'button', id: 'time-live', class: 'primary', hidden: true }, 'Back to live');
    this.speedSelect = h('select', { 'aria-label': 'Replay speed', id: 'time-speed' }, ...SPEEDS.map((s) => h('option', { value: s }, `${s}×`)));
    this.windowSelect = h('select', { 'aria-label': 'Time window', id: 'time-window' }, ...WINDOWS.map((w) => h('option', { value: w.key }, w.label)));
    this.windowSelect.value = '1h';
    this.slider.addEventListener('input', () => this.preview());
    this.slider.addEventListener('change', () => void this.seek(this.sliderTime()));
    this.play.onclick = () => this.togglePlay();
    this.live.onclick = () => this.goLive();
    this.speedSelect.onchange = () => (this.speed = Number(this.speedSelect.value) || 1);
    this.windowSelect.onchange = () => this.placeSlider();
    this.element = h('div', { id: 'timeline' }, this.badge, this.when, this.windowSelect, this.slider, this.play, this.speedSelect, this.live);
    window.setInterval(() => this.placeSlider(), 1_000);
  }

  private windowMs(): number {
    return WINDOWS.find((w) => w.key === this.windowSelect.value)?.ms ?? 3_600_000;
  }

  private sliderTime(): Date {
    const fraction = Number(this.slider.value) / SLIDER_STEPS;
    return new Date(Date.now() - this.windowMs() * (1 - fraction));
  }

  /** While dragging: the instant under the thumb. */
  private preview(): void {
    const t = this.sliderTime();
    this.when.textContent = Number(this.slider.value) >= SLIDER_STEPS ? 'now' : formatInstant(t);
  }

  /** Keeps the thumb where the shown instant is, as "now" moves on. */
  private placeSlider(): void {
    if (document.activeElement === this.slider) return;
    if (!this.at) {
      this.slider.value = String(SLIDER_STEPS);
      return;
    }
    const fraction = 1 - (Date.now() - this.at.getTime()) / this.windowMs();
    // A past instant never sits on the last step, which reads "now": in the
    // last hour one step is 3.6 s, and seconds ago is still the past.
    const step = Math.round(Math.max(0, Math.min(1, fraction)) * SLIDER_STEPS);
    this.slider.value = String(Math.min(step, SLIDER_STEPS - 1));
  }

  /** Goes to an instant (the latest second or later is live). */
  async seek(at: Date): Promise<void> {
    if (at.getTime() >= Date.now() - 1_000) {
      this.goLive();
      return;
    }
    this.at = at;
    this.render();
    this.busy = true;
    try {
      await this.onSeek(at);
    } finally {
      this.busy = false;
    }
  }

  private togglePlay(): void {
    if (this.playing) {
      this.stopPlaying();
      this.render();
      return;
    }
    if (!this.at) {
      // From live, play starts a window's tenth back, so there is something to replay.
      void this.seek(new Date(Date.now() - this.windowMs() / 10));
    }
    this.playing = true;
    let last = performance.now();
    this.timer = window.setInterval(() => {
      const now = performance.now();
      const elapsed = now - last;
      last = now;
      if (!this.at || this.busy) return;
      const next = new Date(this.at.getTime() + elapsed * this.speed);
      void this.seek(next);
    }, STEP_MS);
    this.render();
  }

  private stopPlaying(): void {
    this.playing = false;
    window.clearInterval(this.timer);
    this.timer = 0;
  }

  goLive(): void {
    const wasPast = this.at !== null;
    this.stopPlaying();
    this.at = null;
    this.render();
    if (wasPast) this.onLive();
  }

  /** The server keeps no history: the bar says so and cannot be used. */
  disable(reason: string): void {
    this.stopPlaying();
    this.at = null;
    this.element.classList.add('disabled');
    this.element.title = reason;
    for (const el of [this.slider, this.play, this.speedSelect, this.windowSelect]) el.disabled = true;
    this.render();
  }

  enable(): void {
    this.element.classList.remove('disabled');
    this.element.title = '';
    for (const el of [this.slider, this.play, this.speedSelect, this.windowSelect]) el.disabled = false;
  }

  render(): void {
    const past = this.at !== null;
    this.badge.textContent = past ? (this.playing ? `REPLAY ${this.speed}×` : 'REPLAY') : 'LIVE';
    this.badge.className = past ? 'badge past' : 'badge live';
    this.when.textContent = past && this.at ? formatInstant(this.at) : 'now';
    this.play.textContent = this.playing ? '❚❚' : '▶';
    this.play.title = this.playing ? 'Pause' : 'Replay from the chosen instant';
    this.live.hidden = !past;
    this.element.classList.toggle('past', past);
    document.body.classList.toggle('past', past);
    this.placeSlider();
  }
}

/** "20:41:07" today, else "23 Nov 20:41:07". */
export function formatInstant(d: Date): string {
  const time = d.toLocaleTimeString('en-GB', { hour12: false });
  const today = new Date().toDateString() === d.toDateString();
  return today ? time : `${d.toLocaleDateString('en-GB', { day: 'numeric', month: 'short' })} ${time}`;
}
