// The Twinspace web client: signs in with a token (taken from the URL once, then
// kept in localStorage), lists the worlds the token may see, opens one, draws its
// twins in 3D, and keeps them current: over the live WebSocket protocol when the
// server offers it, else by polling the REST API. A read-only debug hook
// (`window.__twinspace`) lets the browser tests and benchmarks look inside.

import './style.css';
import { Api, ApiProblem, type TwinJson, type WorldSummary } from './api';
import { HistoryChart } from './chart';
import { ALARM_VALUES, colorableProperties, makeColoring, type Coloring } from './colorby';
import { ago, formatValue, h } from './dom';
import { AnnotationEvent_Kind, CommandError, LiveSource, type LiveEvents } from './live';
import { Models, shortName, unitSymbol } from './models';
import { cameraPoseZUp, Overlays, toZUp } from './overlays';
import { Social } from './social';
import { Timeline, formatInstant } from './timeline';
import { TwinSet, twinOf, type Twin } from './twins';
import { View } from './view';
import { XrButtons } from './xr';

const TOKEN_KEY = 'twinspace.token';
const NAME_KEY = 'twinspace.name';
const COLOR_KEY = 'twinspace.color';
/** Avatar colours a participant gets when it has not chosen one: distinct on dark and light. */
const PALETTE = ['#f5a524', '#e5484d', '#30a46c', '#8e4ec6', '#0091ff', '#d6409f', '#12a594', '#f76b15'];
/** Longest annotation text the protocol accepts, in UTF-8 bytes. */
const NOTE_BYTES_MAX = 4_096;

/** How often the whole world is re-read when there is no live connection. */
const POLL_WORLD_MS = 2_000;
/** How often the selected twin is re-read without a live connection (a change shows within a second). */
const POLL_SELECTED_MS = 250;
/** Worlds larger than this are polled less often (a full read costs the server). */
const POLL_TWINS_MAX = 5_000;
/** Longest wait between reconnection attempts. */
const RETRY_MS_MAX = 10_000;
/**
 * Worlds larger than this subscribe to a region around the camera rather than to
 * everything: the client then holds what is near, and the server sends only that.
 */
const REGION_TWINS_MIN = 20_000;
/** Radius of the live region: this many camera distances, and at least REGION_RADIUS_MIN metres. */
const REGION_DISTANCES = 4;
const REGION_RADIUS_MIN = 300;
/** Most rows the scene tree shows (it is a navigation aid, the search finds the rest). */
const TREE_ROWS_MAX = 500;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

type Status = 'live' | 'polling' | 'offline' | 'connecting';

class Client {
  private api: Api | null = null;
  private view: View | null = null;
  private twins = new TwinSet();
  private models = new Models([]);
  private world = '';
  private worlds: WorldSummary[] = [];
  private selectedId: string | null = null;
  private coloring: Coloring | null = null;
  private live: LiveSource | null = null;
  private pollTimers: number[] = [];
  private failures = 0;
  private updatesApplied = 0;
  private lastError = '';
  private status: Status = 'offline';
  private ready = false;
  private panelVersion = -1;
  /** Scene tree nodes shown open (the roots when a world opens, then as the person chooses). */
  private expanded = new Set<string>();
  private relationships: { outgoing: Array<[string, string]>; incoming: Array<[string, string]> } = { outgoing: [], incoming: [] };
  private overlays: Overlays | null = null;
  private xr: XrButtons | null = null;
  private readonly timeline = new Timeline();
  private readonly me = identity();
  private readonly social = new Social(this.me);
  private chart: HistoryChart | null = null;
  /** The property the history chart shows for the selected twin. */
  private chartField: string | null = null;
  private participantId = '';
  private role = '';
  /** Twins whose state is an alarm (outlined in red whatever the colouring). */
  private alarmSet = new Set<string>();
  private alarmsChanged = false;
  /** The instant shown when not live, and the live twins kept aside meanwhile. */
  private past: Date | null = null;
  private pastAt = '';
  private historyAvailable: boolean | null = null;
  private chatLines = 0;

  start(): void {
    this.exposeDebugHook();
    $('app').append(this.timeline.element, this.social.element);
    this.timeline.onSeek = (at) => this.showPast(at);
    this.timeline.onLive = () => this.backToLive();
    this.social.onSend = async (text) => {
      if (!this.live?.connected) throw new Error('Chat needs the live connection, which is down right now.');
      await this.live.sendChat(text);
    };
    this.social.onGoTo = (id) => this.goTo(id);
    this.social.setAvailable(false, 'Chat starts when the live connection is up.');
    const params = new URLSearchParams(location.search);
    const fromUrl = params.get('token');
    if (fromUrl) {
      localStorage.setItem(TOKEN_KEY, fromUrl);
      // The token must not linger in the address bar, history or bookmarks.
      params.delete('token');
      const rest = params.toString();
      history.replaceState(null, '', `${location.pathname}${rest ? `?${rest}` : ''}${location.hash}`);
    }
    const token = localStorage.getItem(TOKEN_KEY);
    $('sign-out').addEventListener('click', () => this.signOut());
    // The search box filters the tree; Enter goes to the first match.
    const search = $<HTMLInputElement>('search');
    search.addEventListener('input', () => this.renderTree());
    search.addEventListener('keydown', (e) => {
      if (e.key !== 'Enter') return;
      const first = $('tree').querySelector<HTMLElement>('button.match[data-twin]');
      if (first?.dataset.twin) this.goTo(first.dataset.twin);
    });
    if (!token) {
      this.showLogin();
      return;
    }
    this.api = new Api(token);
    void this.loadWorlds(params.get('world'));
  }

  private signOut(): void {
    localStorage.removeItem(TOKEN_KEY);
    this.stopSources();
    this.api = null;
    this.showLogin();
  }

  // ------------------------------------------------------------ sign-in and worlds

  private showLogin(message?: string): void {
    this.ready = false;
    const overlay = $('overlay');
    const input = h('input', { type: 'password', placeholder: 'tsk_…', 'aria-label': 'Access token', autocomplete: 'off', id: 'token-input' });
    const form = h(
      'form',
      {
        onsubmit: (e: Event) => {
          e.preventDefault();
          const token = input.value.trim();
          if (!token) return;
          localStorage.setItem(TOKEN_KEY, token);
          this.api = new Api(token);
          overlay.hidden = true;
          void this.loadWorlds(new URLSearchParams(location.search).get('world'));
        },
      },
      input,
      h('button', { class: 'primary', type: 'submit' }, 'Sign in'),
    );
    overlay.replaceChildren(
      h(
        'div',
        { class: 'card', id: 'login' },
        h('h1', {}, h('img', { src: '/favicon.svg', width: 26, height: 26, alt: '' }), 'Twinspace'),
        h('p', {}, 'Paste an access token. The server prints one when it starts (', h('code', {}, 'twinspace serve --demo'), ' prints a ready link); ', h('code', {}, 'twinspace token create'), ' makes more.'),
        message ? h('div', { class: 'error', role: 'alert', id: 'login-error' }, message) : null,
        form,
      ),
    );
    overlay.hidden = false;
    input.focus();
  }

  private async loadWorlds(wanted: string | null): Promise<void> {
    if (!this.api) return;
    try {
      this.worlds = await this.api.worlds();
    } catch (error) {
      this.handleStartError(error, () => void this.loadWorlds(wanted));
      return;
    }
    this.hideBanner();
    this.fillWorldSelect();
    const hash = location.hash.match(/world=([a-z0-9-]+)/)?.[1] ?? null;
    const name = wanted ?? hash;
    if (name) {
      if (this.worlds.some((w) => w.id === name)) {
        await this.openWorld(name);
      } else {
        this.showWorlds(`There is no world "${name}" that this token may see. Pick one of these:`);
      }
      return;
    }
    const populated = this.worlds.filter((w) => w.twins > 0);
    if (populated.length === 1 && populated[0]) await this.openWorld(populated[0].id);
    else this.showWorlds();
  }

  private fillWorldSelect(): void {
    const select = $<HTMLSelectElement>('world-select');
    select.replaceChildren(...this.worlds.map((w) => h('option', { value: w.id }, `${w.id} (${w.twins})`)));
    select.value = this.world;
    select.onchange = () => void this.openWorld(select.value);
  }

  private showWorlds(message?: string): void {
    const overlay = $('overlay');
    const list = h(
      'ul',
      { id: 'world-list' },
      ...this.worlds.map((w) =>
        h(
          'li',
          {},
          h(
            'button',
            { type: 'button', 'data-world': w.id, onclick: () => void this.openWorld(w.id) },
            h('strong', {}, w.id),
            h('span', { class: 'meta' }, `${w.twins.toLocaleString('en-US')} twins · ${w.models} models`),
          ),
        ),
      ),
    );
    overlay.replaceChildren(
      h(
        'div',
        { class: 'card' },
        h('h1', {}, 'Open a world'),
        message ? h('div', { class: 'error', role: 'alert' }, message) : null,
        this.worlds.length === 0 ? h('p', {}, 'This token may see no world yet. Create one with POST /worlds, or start the server with --demo.') : list,
      ),
    );
    overlay.hidden = false;
  }

  private handleStartError(error: unknown, retry: () => void): void {
    const problem = error instanceof ApiProblem ? error : new ApiProblem('request', String(error));
    this.lastError = problem.message;
    if (problem.kind === 'auth') {
      localStorage.removeItem(TOKEN_KEY);
      this.showLogin(problem.message);
    } else if (problem.kind === 'network' || problem.kind === 'server') {
      this.failures += 1;
      const wait = Math.min(1000 * 2 ** Math.min(this.failures, 4), RETRY_MS_MAX);
      this.showBanner(`${problem.message} Retrying in ${Math.round(wait / 1000)} s…`);
      this.setStatus('offline');
      window.setTimeout(retry, wait);
    } else {
      this.showBanner(problem.message);
    }
  }

  // ------------------------------------------------------------ opening a world

  private async openWorld(name: string): Promise<void> {
    if (!this.api) return;
    this.stopSources();
    this.ready = false;
    this.world = name;
    this.selectedId = null;
    this.coloring = null;
    this.past = null;
    this.timeline.goLive();
    this.overlays?.clearParticipants();
    this.overlays?.clearNotes();
    this.alarmSet.clear();
    $<HTMLSelectElement>('color-select').value = '';
    const url = new URL(location.href);
    url.searchParams.set('world', name);
    history.replaceState(null, '', url);
    document.title = `${name} · Twinspace`;
    this.setStatus('connecting');
    try {
      const [models, rows] = await Promise.all([
        this.api.models(name),
        this.api.query<TwinJson>(name, 'SELECT * FROM DIGITALTWINS'),
      ]);
      this.models = new Models(models);
      this.twins = new TwinSet();
      for (const row of rows) this.twins.upsert(twinOf(row));
    } catch (error) {
      const problem = error instanceof ApiProblem ? error : null;
      if (problem?.kind === 'missing') {
        this.showWorlds(`The world "${name}" does not exist (it may have been deleted). Pick another:`);
        return;
      }
      this.handleStartError(error, () => void this.openWorld(name));
      return;
    }
    $('overlay').hidden = true;
    $<HTMLSelectElement>('world-select').value = name;
    if (!this.view) {
      this.view = new View($('viewport'));
      this.view.onPick = (id) => this.select(id);
      this.view.onHover = (id, x, y) => this.showLabel(id, x, y);
      this.view.onCameraMove = (target, distance) => {
        if (this.twins.size >= REGION_TWINS_MIN) this.live?.setRegion(target, Math.max(distance * REGION_DISTANCES, REGION_RADIUS_MIN));
        this.sendHead();
      };
      this.view.onPointerRay = (origin, direction) => {
        if (this.view?.renderer.xr.isPresenting) return;
        this.live?.setPresence({ pointer: { origin: toZUp(origin), direction: toZUp(direction) } });
      };
      this.overlays = new Overlays(this.view);
      this.xr = new XrButtons(
        this.view,
        $<HTMLButtonElement>('enter-vr'),
        $<HTMLButtonElement>('enter-ar'),
        (poses) => this.live?.setPresence(poses),
        (message) => this.showBanner(message),
      );
      void this.xr.detect();
    }
    for (const twin of this.twins.twins.values()) this.checkAlarm(twin);
    this.expanded = new Set(this.twins.children().get(null) ?? []);
    this.view.select(null);
    this.view.setColoring(null);
    this.view.setTwins(this.twins);
    this.view.frameAll();
    this.renderTree();
    this.fillColorSelect();
    this.renderPanel();
    this.renderLegend();
    await this.view.assetsSettled();
    this.view.frameAll();
    this.overlays?.relayout();
    this.overlays?.setAlarms([...this.alarmSet]);
    this.ready = true;
    this.startSources();
    void this.probeHistory();
  }

  /** Whether the server records history (the time bar and charts need it). */
  private async probeHistory(): Promise<void> {
    const api = this.api;
    const first = this.twins.twins.keys().next().value;
    if (!api || !first) return;
    try {
      await api.historyFields(this.world, first);
      this.historyAvailable = true;
      this.timeline.enable();
    } catch (error) {
      if (error instanceof ApiProblem && error.code === 'RouteNotFound') {
        this.historyAvailable = false;
        this.timeline.disable('This server keeps no history, so there is no past to go back to.');
      } else {
        // A twin without history, or a passing failure: the bar stays usable.
        this.historyAvailable = true;
        this.timeline.enable();
      }
    }
  }

  /** Sends the desktop camera as this participant's head (the live source paces it). */
  private sendHead(): void {
    if (!this.view || this.view.renderer.xr.isPresenting) return;
    this.view.camera.updateMatrixWorld();
    this.live?.setPresence({ head: cameraPoseZUp(this.view.camera.matrixWorld) });
  }

  // ------------------------------------------------------------ the past

  /** Shows the world as it was at an instant (the live view's changes are ignored meanwhile). */
  private async showPast(at: Date): Promise<void> {
    if (!this.api || !this.view) return;
    const world = this.world;
    let state: { at: string; twins: TwinJson[] };
    try {
      state = await this.api.stateAt(world, at);
    } catch (error) {
      const problem = error instanceof ApiProblem ? error : null;
      if (problem?.code === 'RouteNotFound') this.timeline.disable('This server keeps no history, so there is no past to go back to.');
      this.showBanner(`The world at ${formatInstant(at)} could not be read: ${problem?.message ?? String(error)}`);
      this.timeline.goLive();
      return;
    }
    if (world !== this.world || this.timeline.at === null) return;
    const liveTwins = this.past ? this.liveTwins : this.twins;
    this.liveTwins = liveTwins;
    this.past = at;
    this.pastAt = state.at;
    this.stopPolling();
    const set = new TwinSet();
    for (const row of state.twins) {
      const twin = twinOf(row);
      // A twin recorded without its placement is drawn where it is now.
      if (!twin.placement) twin.placement = liveTwins.twins.get(twin.id)?.placement ?? null;
      set.upsert(twin);
    }
    this.twins = set;
    this.alarmSet.clear();
    for (const twin of set.twins.values()) this.checkAlarm(twin);
    this.structureChanged = true;
    this.alarmsChanged = true;
    this.afterBatch();
    this.hideBanner();
  }

  private liveTwins = new TwinSet();

  /** Back to the live world: a fresh snapshot over a new connection (what happened meanwhile). */
  private backToLive(): void {
    if (!this.past) return;
    this.past = null;
    this.twins = this.liveTwins;
    this.liveTwins = new TwinSet();
    this.stopSources();
    this.alarmSet.clear();
    for (const twin of this.twins.twins.values()) this.checkAlarm(twin);
    this.structureChanged = true;
    this.alarmsChanged = true;
    this.afterBatch();
    this.startSources();
    // Over REST too, at once: the live snapshot follows.
    void this.pollWorld();
  }

  /** Keeps the alarm set current for one twin. */
  private checkAlarm(twin: Twin | undefined, id = twin?.id): void {
    if (!id) return;
    const alarm = twin ? isAlarm(twin.properties) : false;
    if (alarm !== this.alarmSet.has(id)) {
      if (alarm) this.alarmSet.add(id);
      else this.alarmSet.delete(id);
      this.alarmsChanged = true;
    }
  }

  // ------------------------------------------------------------ keeping current

  private startSources(): void {
    if (!this.api) return;
    this.live = new LiveSource(this.api.token, this.world, this.liveEvents(), this.me.name, this.me.color);
    this.live.onPrune((keep) => {
      for (const id of [...this.twins.twins.keys()]) if (!keep.has(id)) this.applyRemove(id);
    });
    this.live.start();
    // Poll until the live connection says it is up (or that there is none).
    this.startPolling();
  }

  /** What live events do to this client (also fed by the benchmark). */
  liveEvents(): LiveEvents {
    return {
      onStatus: (status, message) => {
        if (status === 'live') {
          this.stopPolling();
          this.setStatus('live');
          this.hideBanner();
          this.social.setAvailable(true);
        } else if (status === 'unavailable') {
          // No live endpoint on this server (or it refused us): poll instead.
          this.live = null;
          this.startPolling();
        } else if (status === 'auth') {
          this.stopSources();
          localStorage.removeItem(TOKEN_KEY);
          this.showLogin(message);
        } else if (status === 'missing') {
          this.stopSources();
          this.showWorlds(message);
        } else if (status === 'reconnecting') {
          this.overlays?.clearParticipants();
          this.social.setPeople([]);
          this.social.setAvailable(false, 'Reconnecting…');
          this.setStatus('offline');
          this.showBanner(message ?? 'The live connection dropped; reconnecting…');
          this.startPolling();
        }
      },
      onReset: () => {},
      onWelcome: (participantId, role) => {
        this.participantId = participantId;
        this.role = role;
        if (this.overlays) this.overlays.self = participantId;
        // Every annotation and participant comes again after a welcome.
        this.overlays?.clearNotes();
        this.overlays?.clearParticipants();
        this.sendHead();
        this.live?.setPresence({ selected: this.selectedId });
        if (this.selectedId) this.renderPanel(true);
      },
      onPresence: (events) => {
        this.overlays?.presence(events);
        this.social.setPeople(this.overlays?.participants() ?? [], (id) => this.displayName(id));
      },
      onChat: (messages) => {
        for (const m of messages) {
          const who = this.overlays?.participants().find((p) => p.id === m.participantId);
          const mine = m.participantId === this.participantId;
          this.chatLines += 1;
          this.social.add({
            participantId: m.participantId,
            name: mine ? `${m.displayName || this.me.name} (you)` : m.displayName || 'Someone',
            color: mine ? this.me.color : (who?.color ?? '#93a4b5'),
            text: m.text,
            at: Number(m.sentAtUnixNs / 1_000_000n) || Date.now(),
          });
        }
      },
      onAnnotations: (events) => {
        for (const e of events) {
          const a = e.annotation;
          if (!a) continue;
          if (e.kind === AnnotationEvent_Kind.DELETED) this.overlays?.removeNote(a.id);
          else
            this.overlays?.addNote({
              id: a.id,
              twinId: a.twinId,
              point: [a.point?.x ?? 0, a.point?.y ?? 0, a.point?.z ?? 0],
              text: a.text,
              author: a.author,
              createdAt: Number(a.createdAtUnixNs / 1_000_000n),
            });
        }
        if (this.selectedId) this.renderPanel(true);
      },
      onEnter: (twin) => {
        if (this.past) return;
        // A snapshot's ENTER carries one time for the whole twin: keep the
        // per-property update times already known for values that did not change.
        const known = this.twins.twins.get(twin.id);
        if (known) {
          for (const [name, value] of Object.entries(twin.properties)) {
            const time = known.updated[name];
            if (time && JSON.stringify(known.properties[name]) === JSON.stringify(value)) twin.updated[name] = time;
          }
        }
        this.applyUpsert(twin);
      },
      onUpdate: (id, change) => {
        if (this.past) return;
        const twin = this.twins.twins.get(id);
        if (!twin) return;
        this.applyUpsert(change(twin));
      },
      onValues: (id, values, at) => {
        if (this.past) return;
        const twin = this.twins.twins.get(id);
        if (!twin) return;
        for (const [name, value] of values) {
          if (value === undefined) delete twin.properties[name];
          else twin.properties[name] = value;
          twin.updated[name] = at;
        }
        twin.version += 1;
        this.updatesApplied += 1;
        this.pendingValues.add(id);
        this.checkAlarm(twin);
      },
      onLeave: (id) => {
        if (!this.past) this.applyRemove(id);
      },
      onSynced: () => {
        if (!this.past) this.afterBatch();
      },
    };
  }

  private stopSources(): void {
    this.live?.stop();
    this.live = null;
    this.stopPolling();
  }

  private startPolling(): void {
    if (this.pollTimers.length > 0 || this.past) return;
    if (this.status !== 'offline') this.setStatus('polling');
    const worldEvery = this.twins.size > POLL_TWINS_MAX ? POLL_WORLD_MS * 5 : POLL_WORLD_MS;
    this.pollTimers.push(window.setInterval(() => void this.pollWorld(), worldEvery));
    this.pollTimers.push(window.setInterval(() => void this.pollSelected(), POLL_SELECTED_MS));
  }

  private stopPolling(): void {
    for (const t of this.pollTimers) window.clearInterval(t);
    this.pollTimers = [];
  }

  private polling = false;

  private async pollWorld(): Promise<void> {
    if (!this.api || this.polling) return;
    this.polling = true;
    const world = this.world;
    try {
      const rows = await this.api.query<TwinJson>(world, 'SELECT * FROM DIGITALTWINS');
      if (world !== this.world || this.past) return;
      const seen = new Set<string>();
      for (const row of rows) {
        seen.add(row.$dtId);
        const known = this.twins.twins.get(row.$dtId);
        if (!known || known.etag !== row.$etag) this.applyUpsert(twinOf(row));
      }
      for (const id of [...this.twins.twins.keys()]) if (!seen.has(id)) this.applyRemove(id);
      this.afterBatch();
      this.recovered();
    } catch (error) {
      this.pollFailed(error);
    } finally {
      this.polling = false;
    }
  }

  private async pollSelected(): Promise<void> {
    const id = this.selectedId;
    if (!this.api || !id || this.past) return;
    try {
      const row = await this.api.twin(this.world, id);
      if (this.past) return;
      const known = this.twins.twins.get(id);
      if (!known || known.etag !== row.$etag) {
        this.applyUpsert(twinOf(row));
        this.afterBatch();
      }
      this.recovered();
    } catch (error) {
      if (error instanceof ApiProblem && error.kind === 'missing') {
        this.applyRemove(id);
        this.afterBatch();
        return;
      }
      this.pollFailed(error);
    }
  }

  private recovered(): void {
    if (this.failures > 0) {
      this.failures = 0;
      this.hideBanner();
    }
    if (this.status !== 'live') this.setStatus('polling');
  }

  private pollFailed(error: unknown): void {
    const problem = error instanceof ApiProblem ? error : new ApiProblem('request', String(error));
    this.lastError = problem.message;
    if (problem.kind === 'auth') {
      this.stopSources();
      localStorage.removeItem(TOKEN_KEY);
      this.showLogin(problem.message);
      return;
    }
    this.failures += 1;
    this.setStatus('offline');
    this.showBanner(`${problem.message} Retrying by itself…`);
  }

  /** Twins whose place changed, twins whose values changed, since the last redraw. */
  private pendingMoves = new Set<string>();
  private pendingValues = new Set<string>();
  private structureChanged = false;

  private applyUpsert(twin: Twin): void {
    const before = this.twins.twins.get(twin.id);
    const moved = this.twins.upsert(twin);
    this.updatesApplied += 1;
    this.checkAlarm(twin);
    if (!before || before.placement?.asset !== twin.placement?.asset || Boolean(before.placement) !== Boolean(twin.placement)) {
      this.structureChanged = true;
    } else if (moved) {
      // Moving a parent moves its children: redraw them all (cheap next to a rebuild).
      if (this.twins.hasChildren(twin.id)) this.structureChanged = true;
      else this.pendingMoves.add(twin.id);
    } else {
      this.pendingValues.add(twin.id);
    }
  }

  private applyRemove(id: string): void {
    if (!this.twins.twins.has(id)) return;
    this.twins.remove(id);
    this.checkAlarm(undefined, id);
    this.structureChanged = true;
    if (this.selectedId === id) this.select(null);
  }

  /** Redraws what the last batch of changes touched, once. */
  private afterBatch(): void {
    if (!this.view) return;
    if (this.alarmsChanged || this.structureChanged || this.pendingMoves.size > 0) {
      this.alarmsChanged = false;
      this.overlays?.setAlarms([...this.alarmSet]);
    }
    const touched = this.structureChanged || this.pendingMoves.size > 0 || this.pendingValues.size > 0;
    if (!touched) return;
    if (this.structureChanged || this.pendingMoves.size > 0) this.overlays?.relayout();
    let treeStale = this.structureChanged;
    if (this.structureChanged) {
      this.view.setTwins(this.twins);
    } else if (this.pendingMoves.size > 0) {
      this.view.updateTwins(this.pendingMoves);
    }
    if (this.coloring) {
      const before = this.coloring;
      this.coloring = makeColoring(this.twins, this.models, before.property);
      const sameScale = JSON.stringify(before.legend) === JSON.stringify(this.coloring.legend);
      const sameAlarms = before.alarms.join('\n') === this.coloring.alarms.join('\n');
      if (sameScale && sameAlarms && !this.structureChanged) {
        // Only the changed twins' colours: the scale did not move.
        this.view.setColoringQuietly(this.coloring.colorOf);
        this.view.recolor(this.pendingValues);
      } else {
        this.view.setColoring(this.coloring.colorOf, this.coloring.alarms);
        for (const id of this.coloring.alarms) this.reveal(id);
        this.renderLegend();
        treeStale = true;
      }
    }
    if (treeStale) this.renderTree();
    const id = this.selectedId;
    if (id && (this.structureChanged || this.pendingMoves.has(id) || this.pendingValues.has(id))) this.renderPanel();
    const hovered = this.hover.id;
    if (hovered && (this.pendingValues.has(hovered) || this.structureChanged)) this.showLabel(hovered, this.hover.x, this.hover.y);
    this.structureChanged = false;
    this.pendingMoves.clear();
    this.pendingValues.clear();
  }

  // ------------------------------------------------------------ selection

  select(id: string | null): void {
    if (id && !this.twins.twins.has(id)) return;
    this.selectedId = id;
    if (id) this.reveal(id);
    this.view?.select(id);
    this.panelVersion = -1;
    this.relationships = { outgoing: [], incoming: [] };
    this.chartField = null;
    this.renderPanel();
    this.renderTree();
    this.live?.setPresence({ selected: id });
    if (id) void this.loadRelationships(id);
  }

  /** Opens the scene tree down to a twin. */
  private reveal(id: string): void {
    let up = this.twins.twins.get(id)?.placement?.parent;
    for (let depth = 0; up && depth < 64; depth += 1) {
      this.expanded.add(up);
      up = this.twins.twins.get(up)?.placement?.parent;
    }
  }

  private async loadRelationships(id: string): Promise<void> {
    if (!this.api) return;
    try {
      const [outgoing, incoming] = await Promise.all([this.api.outgoing(this.world, id), this.api.incoming(this.world, id)]);
      if (this.selectedId !== id) return;
      this.relationships = {
        outgoing: outgoing.map((r) => [r.$relationshipName, r.$targetId]),
        incoming: incoming.map((r) => [r.$relationshipName, r.$sourceId]),
      };
      this.panelVersion = -1;
      this.renderPanel();
    } catch (error) {
      this.lastError = error instanceof Error ? error.message : String(error);
    }
  }

  /** The note being written stays across panel redraws (values change under it). */
  private noteInput: HTMLTextAreaElement | null = null;
  private noteError = '';

  private renderPanel(_notesChanged = false): void {
    const panel = $('panel');
    const twin = this.selectedId ? this.twins.twins.get(this.selectedId) : undefined;
    if (!twin) {
      panel.hidden = true;
      this.panelVersion = -1;
      this.chart?.show(null);
      return;
    }
    const previous = this.panelVersion === -1 ? null : panel.querySelectorAll<HTMLElement>('tr[data-property]');
    const before = new Map<string, string>();
    previous?.forEach((row) => before.set(row.dataset.property ?? '', row.querySelector('.number')?.textContent ?? ''));
    this.panelVersion = twin.version;
    const model = this.models.get(twin.model);
    const name = typeof twin.properties.name === 'string' ? twin.properties.name : twin.id;
    const rows: HTMLElement[] = [];
    const names = Object.keys(twin.properties).filter((n) => n !== 'name');
    // Properties in the model's order, then any others.
    const order = [...model.properties.keys()].filter((n) => names.includes(n));
    for (const n of names) if (!order.includes(n)) order.push(n);
    for (const property of order) {
      const value = twin.properties[property];
      const info = model.properties.get(property);
      const text = formatValue(value);
      const alarm = typeof value === 'string' && ['fault', 'alarm', 'error'].includes(value.toLowerCase());
      const changed = before.size > 0 && before.has(property) && before.get(property) !== text;
      if (value && typeof value === 'object' && model.components.includes(property)) {
        // A component: its properties one level down.
        for (const [sub, subValue] of Object.entries(value as Record<string, unknown>)) {
          if (sub.startsWith('$')) continue;
          rows.push(
            h('tr', { 'data-property': `${property}.${sub}` }, h('td', { class: 'name' }, `${humanize(property)} › ${humanize(sub).toLowerCase()}`), h('td', { class: 'value' }, h('span', { class: 'number' }, formatValue(subValue)))),
          );
        }
        continue;
      }
      const chartable = typeof value === 'number' || typeof value === 'boolean';
      const charted = chartable && property === this.chartFieldFor(twin);
      rows.push(
        h(
          'tr',
          {
            'data-property': property,
            class: [changed ? 'changed' : '', chartable ? 'chartable' : '', charted ? 'charted' : ''].join(' ').trim() || undefined,
            title: chartable ? 'Show its history below' : undefined,
            onclick: chartable
              ? () => {
                  this.chartField = property;
                  this.renderPanel();
                }
              : undefined,
          },
          h('td', { class: 'name', title: property }, info && info.displayName !== property ? info.displayName : humanize(property)),
          h(
            'td',
            { class: alarm ? 'value alarm' : 'value' },
            h('span', { class: 'number' }, text),
            info?.unit ? h('span', { class: 'unit' }, unitSymbol(info.unit)) : null,
            twin.updated[property] ? h('span', { class: 'time', title: twin.updated[property] }, `updated ${ago(twin.updated[property])}`) : null,
          ),
        ),
      );
    }
    const relList = (items: Array<[string, string]>, arrow: string) =>
      items.map(([rel, other]) =>
        h(
          'li',
          {},
          h('span', { class: 'rel-name' }, `${arrow} ${rel}`),
          h('button', { type: 'button', 'data-goto': other, onclick: () => this.goTo(other) }, this.displayName(other)),
        ),
      );
    const rels = [...relList(this.relationships.outgoing, '→'), ...relList(this.relationships.incoming, '←')];
    const parent = twin.placement?.parent;
    const history = this.historySection(twin);
    const notes = this.notesSection(twin);
    panel.replaceChildren(
      h(
        'header',
        {},
        h('h2', { class: 'title', id: 'panel-title' }, name),
        h('div', { class: 'sub' }, twin.id),
        this.past ? h('div', { class: 'as-at', id: 'panel-as-at' }, `As it was at ${formatInstant(new Date(this.pastAt || this.past.toISOString()))}`) : null,
        h('span', { class: 'model', title: twin.model }, model.displayName),
        h(
          'div',
          { class: 'actions' },
          h('button', { type: 'button', onclick: () => this.view?.focus(twin.id) }, 'Focus'),
          parent ? h('button', { type: 'button', onclick: () => this.goTo(parent) }, `Up to ${this.displayName(parent)}`) : null,
          h('button', { type: 'button', onclick: () => this.select(null) }, 'Close'),
        ),
      ),
      h('h3', {}, 'Properties'),
      rows.length ? h('table', { id: 'properties' }, h('tbody', {}, ...rows)) : h('p', { class: 'empty' }, 'No property values set.'),
      ...history,
      h('h3', {}, 'Relationships'),
      rels.length ? h('ul', { class: 'rels', id: 'relationships' }, ...rels) : h('p', { class: 'empty' }, 'None.'),
      ...notes,
    );
    panel.hidden = false;
  }

  /** The property charted for a twin: the one chosen, else its first number. */
  private chartFieldFor(twin: Twin): string | null {
    if (this.chartField && this.chartField in twin.properties) return this.chartField;
    const model = this.models.get(twin.model);
    const names = [...model.properties.keys(), ...Object.keys(twin.properties)];
    return names.find((n) => typeof twin.properties[n] === 'number') ?? null;
  }

  private historySection(twin: Twin): HTMLElement[] {
    const field = this.chartFieldFor(twin);
    if (!this.api || !field || this.historyAvailable === false) {
      this.chart?.show(null);
      return this.historyAvailable === false ? [h('h3', {}, 'History'), h('p', { class: 'empty' }, 'This server keeps no history.')] : [];
    }
    this.chart ??= new HistoryChart(this.api);
    const info = this.models.get(twin.model).properties.get(field);
    const label = info && info.displayName !== field ? info.displayName : humanize(field);
    const unit = info?.unit ? unitSymbol(info.unit) : '';
    this.chart.show({ world: this.world, twinId: twin.id, field, unit, label });
    return [h('h3', { id: 'history-title' }, `History · ${label}${unit ? ` (${unit})` : ''}`), this.chart.element];
  }

  private notesSection(twin: Twin): HTMLElement[] {
    const notes = (this.overlays?.notes() ?? []).filter((n) => n.twinId === twin.id);
    const canWrite = ['operator', 'editor', 'admin'].includes(this.role);
    const items = notes.map((n) =>
      h(
        'li',
        { 'data-note': n.id },
        h('div', { class: 'text' }, n.text),
        h('div', { class: 'meta' }, `${n.author || 'someone'} · ${ago(new Date(n.createdAt).toISOString())}`),
        canWrite ? h('button', { type: 'button', class: 'delete', title: 'Delete this note', onclick: () => void this.deleteNote(n.id) }, 'Delete') : null,
      ),
    );
    if (!this.noteInput || this.noteInput.dataset.twin !== twin.id) {
      this.noteInput = h('textarea', { id: 'note-input', rows: 2, placeholder: 'Pin a note to this twin…', 'data-twin': twin.id, 'aria-label': 'Note text' });
      this.noteError = '';
    }
    const form = this.live?.connected && canWrite && !this.past
      ? h(
          'form',
          {
            class: 'note-form',
            onsubmit: (e: Event) => {
              e.preventDefault();
              void this.addNote(twin.id);
            },
          },
          this.noteInput,
          h('button', { type: 'submit', id: 'note-add' }, 'Pin note'),
        )
      : h('p', { class: 'empty' }, this.past ? 'Notes are written in the live view.' : canWrite ? 'Notes need the live connection.' : 'This token may read notes but not write them (operator role needed).');
    const parts: Array<HTMLElement | null> = [
      h('h3', {}, `Notes${notes.length ? ` · ${notes.length}` : ''}`),
      items.length ? h('ul', { class: 'notes', id: 'notes' }, ...items) : null,
      this.noteError ? h('div', { class: 'error', role: 'alert' }, this.noteError) : null,
      form,
    ];
    return parts.filter((e): e is HTMLElement => e !== null);
  }

  private async addNote(twinId: string): Promise<void> {
    const input = this.noteInput;
    const text = input?.value.trim() ?? '';
    if (!input || !text || !this.live) return;
    if (new TextEncoder().encode(text).length > NOTE_BYTES_MAX) {
      this.noteError = `A note may be at most ${NOTE_BYTES_MAX} bytes.`;
      this.renderPanel();
      return;
    }
    try {
      await this.live.createAnnotation(twinId, [0, 0, 0], text);
      input.value = '';
      this.noteError = '';
    } catch (error) {
      this.noteError = error instanceof CommandError && error.code === 'Forbidden' ? 'This token may not pin notes (operator role needed).' : `The note was not pinned: ${error instanceof Error ? error.message : String(error)}`;
    }
    this.renderPanel();
  }

  private async deleteNote(id: string): Promise<void> {
    try {
      await this.live?.deleteAnnotation(id);
      this.noteError = '';
    } catch (error) {
      this.noteError = `The note was not deleted: ${error instanceof Error ? error.message : String(error)}`;
    }
    this.renderPanel();
  }

  private goTo(id: string): void {
    if (!this.twins.twins.has(id)) return;
    this.select(id);
    this.view?.focus(id);
  }

  private displayName(id: string): string {
    const name = this.twins.twins.get(id)?.properties.name;
    return typeof name === 'string' ? name : id;
  }

  // ------------------------------------------------------------ tree, label, colours

  private renderTree(): void {
    const tree = $('tree');
    const filter = $<HTMLInputElement>('search').value.trim().toLowerCase();
    const children = this.twins.children();
    let rows = 0;
    const alarms = new Set(this.coloring?.alarms ?? []);
    const matches = (id: string): boolean => {
      if (!filter) return true;
      return id.toLowerCase().includes(filter) || this.displayName(id).toLowerCase().includes(filter);
    };
    const subtreeMatches = (id: string, depth: number): boolean =>
      matches(id) || (depth < 32 && (children.get(id) ?? []).some((c) => subtreeMatches(c, depth + 1)));
    const build = (ids: string[], depth: number): HTMLElement | null => {
      const items: HTMLElement[] = [];
      for (const id of ids) {
        if (rows >= TREE_ROWS_MAX || depth > 32 || !subtreeMatches(id, depth)) continue;
        rows += 1;
        const twin = this.twins.twins.get(id);
        const color = this.coloring?.colorOf(id);
        const kids = children.get(id) ?? [];
        const open = Boolean(filter) || this.expanded.has(id);
        const caret = h(
          'span',
          {
            class: 'caret',
            'data-toggle': kids.length ? id : undefined,
            title: kids.length ? (open ? 'Collapse' : `Show ${kids.length} inside`) : undefined,
            onclick: (e: Event) => {
              if (!kids.length) return;
              e.stopPropagation();
              if (this.expanded.has(id)) this.expanded.delete(id);
              else this.expanded.add(id);
              this.renderTree();
            },
          },
          kids.length ? (open ? '▾' : '▸') : '',
        );
        const button = h(
          'button',
          {
            type: 'button',
            class: [id === this.selectedId ? 'selected' : '', alarms.has(id) ? 'alarm' : '', filter && matches(id) ? 'match' : ''].join(' ').trim() || undefined,
            'data-twin': id,
            onclick: () => this.goTo(id),
          },
          caret,
          h('span', { class: 'swatch', style: `background:${color ? `#${color.getHexString()}` : 'rgba(255,255,255,0.25)'}` }),
          h('span', { class: 'name' }, this.displayName(id)),
          h('span', { class: 'kind' }, twin ? shortName(twin.model) + (kids.length && !open ? ` · ${kids.length}` : '') : ''),
        );
        const sub = open ? build(kids, depth + 1) : null;
        items.push(h('li', {}, button, sub));
      }
      return items.length ? h('ul', {}, ...items) : null;
    };
    const body = build(children.get(null) ?? [], 0);
    tree.replaceChildren(
      h('h2', {}, `Scene · ${this.twins.size.toLocaleString('en-US')} twins`),
      body ?? h('p', { class: 'empty' }, filter ? 'No twin matches.' : 'No twins.'),
    );
  }

  private hover: { id: string | null; x: number; y: number } = { id: null, x: 0, y: 0 };

  private showLabel(id: string | null, x: number, y: number): void {
    this.hover = { id, x, y };
    const label = $('label');
    const twin = id ? this.twins.twins.get(id) : undefined;
    if (!twin) {
      label.hidden = true;
      return;
    }
    const model = this.models.get(twin.model);
    const extra: string[] = [];
    const state = twin.properties.state;
    if (typeof state === 'string') extra.push(state);
    if (this.coloring && this.coloring.property !== 'state') {
      const v = twin.properties[this.coloring.property];
      if (v !== undefined) extra.push(`${this.coloring.property} ${formatValue(v)}${this.coloring.legend.unit ? ` ${this.coloring.legend.unit}` : ''}`);
    }
    label.replaceChildren(
      h('div', {}, h('strong', {}, this.displayName(twin.id))),
      h('div', { class: 'kind' }, [model.displayName, ...extra].join(' · ')),
    );
    label.style.left = `${x}px`;
    label.style.top = `${y}px`;
    label.hidden = false;
  }

  private fillColorSelect(): void {
    const select = $<HTMLSelectElement>('color-select');
    const options = colorableProperties(this.twins).map((p) => h('option', { value: p }, p));
    select.replaceChildren(h('option', { value: '' }, '— model colors —'), ...options);
    select.onchange = () => this.colorBy(select.value || null);
  }

  colorBy(property: string | null): void {
    this.coloring = property ? makeColoring(this.twins, this.models, property) : null;
    $<HTMLSelectElement>('color-select').value = property ?? '';
    this.view?.setColoring(this.coloring?.colorOf ?? null, this.coloring?.alarms ?? []);
    for (const id of this.coloring?.alarms ?? []) this.reveal(id);
    this.renderLegend();
    this.renderTree();
  }

  private renderLegend(): void {
    const legend = $('legend');
    const c = this.coloring;
    if (!c) {
      legend.hidden = true;
      return;
    }
    const { legend: l } = c;
    const unit = l.unit ? ` ${l.unit}` : '';
    legend.replaceChildren(
      h('div', { class: 'title' }, `${l.title}${unit ? ` (${l.unit})` : ''}`),
      ...(l.kind === 'numeric'
        ? [
            h('div', { class: 'ramp', style: `background:${l.gradient}` }),
            h('div', { class: 'ends' }, h('span', {}, `${formatValue(l.min)}${unit}`), h('span', {}, `${formatValue(l.max)}${unit}`)),
          ]
        : l.entries.map((e) =>
            h('div', { class: e.alarm ? 'entry alarm' : 'entry' }, h('span', { class: 'chip', style: `background:${e.color}` }), h('span', {}, e.label), h('span', { class: 'count' }, String(e.count))),
          )),
    );
    legend.hidden = false;
  }

  // ------------------------------------------------------------ status and errors

  private setStatus(status: Status): void {
    this.status = status;
    const el = $('status');
    el.className = `status ${status}`;
    const text = { live: 'live', polling: 'updating', offline: 'offline', connecting: 'connecting…' }[status];
    el.querySelector('.text')!.textContent = text;
    el.title =
      status === 'live'
        ? 'Live: changes arrive over the WebSocket protocol as they happen'
        : status === 'polling'
          ? 'Updating by reading the world every few seconds'
          : status === 'offline'
            ? 'The server cannot be reached; retrying'
            : 'Connecting';
  }

  private showBanner(message: string, info = false): void {
    const banner = $('banner');
    banner.textContent = message;
    banner.className = info ? 'info' : '';
    banner.hidden = false;
  }

  private hideBanner(): void {
    $('banner').hidden = true;
  }

  // ------------------------------------------------------------ debug hook

  private exposeDebugHook(): void {
    const client = this;
    const hook = {
      get ready() {
        return client.ready;
      },
      get world() {
        return client.world;
      },
      get twinCount() {
        return client.twins.size;
      },
      get selected() {
        return client.selectedId;
      },
      get source() {
        return client.status;
      },
      get updatesApplied() {
        return client.updatesApplied;
      },
      get lastError() {
        return client.lastError;
      },
      get participantId() {
        return client.participantId;
      },
      get role() {
        return client.role;
      },
      get past() {
        return client.past ? client.past.toISOString() : null;
      },
      get presenceSent() {
        return client.live?.presenceSent ?? 0;
      },
      get chatLines() {
        return client.chatLines;
      },
      get historyAvailable() {
        return client.historyAvailable;
      },
      others: () => client.overlays?.participants().map((p) => ({ ...p })) ?? [],
      notes: () => client.overlays?.notes().map((n) => ({ ...n })) ?? [],
      alarms: () => client.overlays?.alarms ?? [],
      xr: () => (client.xr ? { ...client.xr.state } : null),
      chart: () => (client.chart ? { ...client.chart.last } : null),
      cameraHead: () => (client.view ? cameraPoseZUp(client.view.camera.matrixWorld) : null),
      /** Goes back to an instant (ISO 8601), as the time slider does. */
      seek: (iso: string) => client.timeline.seek(new Date(iso)),
      goLive: () => client.timeline.goLive(),
      stats: () => client.view?.getStats() ?? null,
      screenPosition: (id: string) => client.view?.screenPosition(id) ?? null,
      samplePixels: () => client.view?.samplePixels() ?? null,
      select: (id: string | null) => client.select(id),
      focus: (id: string) => client.view?.focus(id),
      colorBy: (property: string | null) => client.colorBy(property),
      ids: () => [...client.twins.twins.keys()],
      /** The client's hot path: decode and apply `updates` live updates (src/bench.ts, loaded on demand). */
      benchDecodeApply: async (updates: number) => (await import('./bench')).decodeApply(client.world, [...client.twins.twins.keys()], client.liveEvents(), updates),
      /** Renders `frames` frames, each waited for, orbiting slightly: milliseconds per frame. */
      benchFrames: (frames: number) => client.view?.benchFrames(frames) ?? null,
    };
    Object.defineProperty(window, '__twinspace', { value: Object.freeze(hook), configurable: false });
  }
}

/** Whether a twin's properties put it in an alarm state (a state/status that is an alarm value, or a true alarm/fault flag). */
function isAlarm(properties: Record<string, unknown>): boolean {
  for (const [name, value] of Object.entries(properties)) {
    if (typeof value === 'string' && ALARM_VALUES.has(value.toLowerCase()) && /state|status|mode|condition|health/i.test(name)) return true;
    if (value === true && /^(alarm|fault|inalarm|faulted|isfaulted|hasalarm)$/i.test(name)) return true;
  }
  return false;
}

/** This participant's name and avatar colour: `?name=` once, else kept, else a guest name. */
function identity(): { name: string; color: string } {
  const params = new URLSearchParams(location.search);
  let name = params.get('name')?.trim().slice(0, 40) || localStorage.getItem(NAME_KEY) || '';
  if (!name) name = `Guest ${Math.floor(1000 + Math.random() * 9000)}`;
  localStorage.setItem(NAME_KEY, name);
  let color = localStorage.getItem(COLOR_KEY) ?? '';
  if (!/^#[0-9a-f]{6}$/i.test(color)) {
    // FNV-1a: names differing in one letter get different colours.
    let hash = 0x811c9dc5;
    for (const ch of name) hash = Math.imul(hash ^ ch.charCodeAt(0), 0x01000193) >>> 0;
    color = PALETTE[hash % PALETTE.length] ?? '#f5a524';
    localStorage.setItem(COLOR_KEY, color);
  }
  return { name, color };
}

/** `spindleTemperature` → `Spindle temperature`, for properties without a display name. */
function humanize(name: string): string {
  const words = name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/[_-]+/g, ' ').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

new Client().start();
