// What is drawn over the twins: the other participants (a head looking where
// their camera looks, hands in XR, the ray they point with, an outline around
// the twin they selected, and their name), annotations pinned to twins (a pin
// with the note's text), and a red pulsing outline around every twin in an
// alarm state, whether or not the view is coloured by a property.
//
// Presence and annotations come in Twinspace's z-up world coordinates; the
// scene is y-up, so every pose goes through Z_UP_TO_Y_UP once here.

import {
  Box3,
  Box3Helper,
  BufferGeometry,
  CanvasTexture,
  Color,
  ConeGeometry,
  Group,
  Line,
  LineBasicMaterial,
  Matrix4,
  Mesh,
  MeshStandardMaterial,
  Quaternion,
  SphereGeometry,
  Sprite,
  SpriteMaterial,
  SRGBColorSpace,
  Vector3,
} from 'three';
import type { PresenceEvent } from './live';
import { Z_UP_TO_Y_UP, type View } from './view';

/** How far a pointer ray is drawn, in metres. */
const RAY_LENGTH = 60;
/** Most alarm outlines drawn at once (the legend and tree list the rest). */
const ALARM_OUTLINES_MAX = 200;
/** Heads closer than this to the viewer's camera are hidden, in metres. */
const NEAR_HEAD_M = 4;
/** One pulse of an alarm outline, in milliseconds. */
const ALARM_PULSE_MS = 1_100;
/** Longest note text drawn on a pin (the panel shows all of it). */
const PIN_TEXT_MAX = 60;
/** Label heights as a fraction of the view's height (labels keep their size at any distance). */
const NAME_LABEL_SCALE = 0.035;
const PIN_LABEL_SCALE = 0.032;

export interface Participant {
  id: string;
  name: string;
  color: string;
  selected: string;
  /** Head position in z-up world coordinates, when known. */
  head: [number, number, number] | null;
}

export interface PinnedNote {
  id: string;
  twinId: string;
  /** Offset from the twin (z-up metres). */
  point: [number, number, number];
  text: string;
  author: string;
  createdAt: number;
}

interface Avatar {
  participant: Participant;
  root: Group;
  head: Group;
  hands: [Mesh, Mesh];
  ray: Line;
  label: Sprite;
  outline: Box3Helper;
}

/** A text label drawn on a canvas, as a sprite that keeps its size on screen. */
function textSprite(text: string, color: string, background: string, scale: number): Sprite {
  const font = 28;
  const pad = 12;
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d');
  const measure = ctx ? (ctx.font = `600 ${font}px system-ui, sans-serif`, ctx.measureText(text).width) : text.length * font * 0.6;
  canvas.width = Math.ceil(measure + pad * 2);
  canvas.height = font + pad * 2;
  if (ctx) {
    ctx.fillStyle = background;
    const r = 10;
    ctx.beginPath();
    ctx.roundRect(0, 0, canvas.width, canvas.height, r);
    ctx.fill();
    ctx.fillStyle = color;
    ctx.font = `600 ${font}px system-ui, sans-serif`;
    ctx.textBaseline = 'middle';
    ctx.fillText(text, pad, canvas.height / 2 + 1);
  }
  const texture = new CanvasTexture(canvas);
  texture.colorSpace = SRGBColorSpace;
  const material = new SpriteMaterial({ map: texture, depthTest: false, sizeAttenuation: false, transparent: true });
  const sprite = new Sprite(material);
  sprite.scale.set((scale * canvas.width) / canvas.height, scale, 1);
  sprite.renderOrder = 10;
  return sprite;
}

function disposeSprite(sprite: Sprite): void {
  sprite.material.map?.dispose();
  sprite.material.dispose();
}

/** A z-up position as a y-up scene vector. */
function toScene(p: { x: number; y: number; z: number }): Vector3 {
  return new Vector3(p.x, p.y, p.z).applyMatrix4(Z_UP_TO_Y_UP);
}

const Z_TO_Y_ROTATION = new Quaternion().setFromRotationMatrix(Z_UP_TO_Y_UP);

export class Overlays {
  private readonly root = new Group();
  private readonly avatars = new Map<string, Avatar>();
  private readonly pins = new Map<string, { note: PinnedNote; group: Group }>();
  private alarmIds: string[] = [];
  private readonly alarmOutlines: Box3Helper[] = [];
  private readonly alarmColor = new Color(0xff2d2d);
  private readonly headGeometry = new SphereGeometry(0.45, 20, 14);
  private readonly noseGeometry = new ConeGeometry(0.22, 0.5, 14).rotateX(-Math.PI / 2).translate(0, 0, -0.55);
  private readonly handGeometry = new SphereGeometry(0.12, 12, 8);
  /** This client's participant id: never drawn as an avatar. */
  self = '';

  constructor(private readonly view: View) {
    view.scene.add(this.root);
    view.frameHooks.push((now) => this.pulse(now));
    view.frameHooks.push(() => this.hideNearHeads());
  }

  // ------------------------------------------------------------ participants

  participants(): Participant[] {
    return [...this.avatars.values()].map((a) => a.participant);
  }

  /** Applies one tick's presence events. */
  presence(events: PresenceEvent[]): void {
    for (const event of events) {
      if (event.participantId === this.self) continue;
      if (event.kind === 3) {
        this.dropAvatar(event.participantId);
        continue;
      }
      let avatar = this.avatars.get(event.participantId);
      const name = event.displayName || 'Someone';
      const color = /^#[0-9a-f]{3,8}$/i.test(event.color) ? event.color : '#f5a524';
      if (avatar && (avatar.participant.name !== name || avatar.participant.color !== color)) {
        this.dropAvatar(event.participantId);
        avatar = undefined;
      }
      avatar ??= this.makeAvatar(event.participantId, name, color);
      this.placeAvatar(avatar, event);
    }
    this.view.invalidate();
  }

  /** Forgets every participant (the connection dropped; presence is sent again on reconnect). */
  clearParticipants(): void {
    for (const id of [...this.avatars.keys()]) this.dropAvatar(id);
    this.view.invalidate();
  }

  private makeAvatar(id: string, name: string, color: string): Avatar {
    const material = new MeshStandardMaterial({ color: new Color(color), roughness: 0.45, metalness: 0.05, emissive: new Color(color), emissiveIntensity: 0.25 });
    const head = new Group();
    head.add(new Mesh(this.headGeometry, material), new Mesh(this.noseGeometry, material));
    const hands: [Mesh, Mesh] = [new Mesh(this.handGeometry, material), new Mesh(this.handGeometry, material)];
    hands.forEach((hand) => (hand.visible = false));
    const ray = new Line(new BufferGeometry().setFromPoints([new Vector3(), new Vector3(0, 0, -RAY_LENGTH)]), new LineBasicMaterial({ color: new Color(color), transparent: true, opacity: 0.85 }));
    ray.visible = false;
    const label = textSprite(name, '#ffffff', color, NAME_LABEL_SCALE);
    label.center.set(0.5, -0.6);
    const outline = new Box3Helper(new Box3(), new Color(color));
    outline.visible = false;
    const root = new Group();
    root.add(head, ...hands, ray, label, outline);
    this.root.add(root);
    const avatar: Avatar = { participant: { id, name, color, selected: '', head: null }, root, head, hands, ray, label, outline };
    this.avatars.set(id, avatar);
    return avatar;
  }

  private placeAvatar(avatar: Avatar, event: PresenceEvent): void {
    const pose = (target: { position: Vector3; quaternion: Quaternion; visible: boolean }, p: PresenceEvent['head']) => {
      if (!p?.position) return false;
      target.position.copy(toScene(p.position));
      const r = p.rotation;
      if (r) target.quaternion.copy(Z_TO_Y_ROTATION).multiply(new Quaternion(r.x, r.y, r.z, r.w).normalize());
      target.visible = true;
      return true;
    };
    if (pose(avatar.head, event.head) && event.head?.position) {
      avatar.participant.head = [event.head.position.x, event.head.position.y, event.head.position.z];
      avatar.label.position.copy(avatar.head.position);
    }
    pose(avatar.hands[0], event.leftHand);
    pose(avatar.hands[1], event.rightHand);
    const ray = event.pointer;
    if (ray?.origin && ray.direction && Math.hypot(ray.direction.x, ray.direction.y, ray.direction.z) > 0) {
      const origin = toScene(ray.origin);
      const direction = toScene(ray.direction).normalize();
      avatar.ray.geometry.setFromPoints([origin, origin.clone().addScaledVector(direction, RAY_LENGTH)]);
      avatar.ray.geometry.computeBoundingSphere();
      avatar.ray.visible = true;
    }
    avatar.participant.selected = event.selectedTwinId;
    this.outlineSelection(avatar);
  }

  private outlineSelection(avatar: Avatar): void {
    const box = avatar.participant.selected ? this.view.worldBox(avatar.participant.selected) : null;
    if (box) {
      avatar.outline.box.copy(box).expandByScalar(0.18);
      avatar.outline.visible = true;
    } else {
      avatar.outline.visible = false;
    }
  }

  private dropAvatar(id: string): void {
    const avatar = this.avatars.get(id);
    if (!avatar) return;
    this.root.remove(avatar.root);
    avatar.ray.geometry.dispose();
    (avatar.ray.material as LineBasicMaterial).dispose();
    ((avatar.head.children[0] as Mesh).material as MeshStandardMaterial).dispose();
    disposeSprite(avatar.label);
    avatar.outline.dispose();
    this.avatars.delete(id);
  }

  // ------------------------------------------------------------ annotations

  notes(): PinnedNote[] {
    return [...this.pins.values()].map((p) => p.note).sort((a, b) => a.createdAt - b.createdAt);
  }

  addNote(note: PinnedNote): void {
    this.removeNote(note.id);
    const group = new Group();
    const text = note.text.length > PIN_TEXT_MAX ? `${note.text.slice(0, PIN_TEXT_MAX - 1)}…` : note.text;
    const label = textSprite(`📌 ${text}`, '#1b1f24', '#ffe58a', PIN_LABEL_SCALE);
    label.center.set(0.5, 0);
    const stem = new Line(new BufferGeometry().setFromPoints([new Vector3(), new Vector3(0, 1, 0)]), new LineBasicMaterial({ color: 0xffe58a }));
    group.add(stem, label);
    group.userData = { label, stem };
    this.root.add(group);
    this.pins.set(note.id, { note, group });
    this.placeNote(note.id);
    this.view.invalidate();
  }

  removeNote(id: string): void {
    const pin = this.pins.get(id);
    if (!pin) return;
    this.root.remove(pin.group);
    disposeSprite(pin.group.userData.label as Sprite);
    (pin.group.userData.stem as Line).geometry.dispose();
    this.pins.delete(id);
    this.view.invalidate();
  }

  clearNotes(): void {
    for (const id of [...this.pins.keys()]) this.removeNote(id);
  }

  /** Puts a pin above its twin (plus the note's offset); hidden while the twin is not drawn. */
  private placeNote(id: string): void {
    const pin = this.pins.get(id);
    if (!pin) return;
    const { note, group } = pin;
    const box = note.twinId ? this.view.worldBox(note.twinId) : new Box3(new Vector3(), new Vector3());
    if (!box) {
      group.visible = false;
      return;
    }
    const base = new Vector3((box.min.x + box.max.x) / 2, box.max.y, (box.min.z + box.max.z) / 2);
    const offset = toScene({ x: note.point[0], y: note.point[1], z: note.point[2] });
    const rise = 1.2 + Math.max(0, offset.y);
    group.position.copy(base).add(new Vector3(offset.x, 0, offset.z));
    (group.userData.stem as Line).scale.set(1, rise, 1);
    (group.userData.label as Sprite).position.set(0, rise, 0);
    group.visible = true;
  }

  /** Where the twins are changed (a world opened, twins moved): pins and outlines follow. */
  relayout(): void {
    for (const id of this.pins.keys()) this.placeNote(id);
    for (const avatar of this.avatars.values()) this.outlineSelection(avatar);
    this.setAlarms(this.alarmIds);
    this.view.invalidate();
  }

  // ------------------------------------------------------------ alarms

  /** Twins in an alarm state: each gets a red outline that pulses. */
  setAlarms(ids: string[]): void {
    this.alarmIds = ids.slice(0, ALARM_OUTLINES_MAX);
    while (this.alarmOutlines.length < this.alarmIds.length) {
      const helper = new Box3Helper(new Box3(), this.alarmColor);
      (helper.material as LineBasicMaterial).transparent = true;
      (helper.material as LineBasicMaterial).depthTest = false;
      helper.renderOrder = 5;
      this.root.add(helper);
      this.alarmOutlines.push(helper);
    }
    this.alarmOutlines.forEach((helper, i) => {
      const id = this.alarmIds[i];
      const box = id ? this.view.worldBox(id) : null;
      helper.visible = Boolean(box);
      if (box) helper.box.copy(box).expandByScalar(0.25);
    });
    this.view.invalidate();
  }

  get alarms(): string[] {
    return [...this.alarmIds];
  }

  /**
   * A head within NEAR_HEAD_M of this camera is not drawn (two people framing
   * the whole world stand at the same spot; the other's head would fill the
   * view). Its name stays.
   */
  private hideNearHeads(): boolean {
    const eye = this.view.camera.position;
    for (const avatar of this.avatars.values()) {
      if (!avatar.participant.head) continue;
      avatar.head.visible = avatar.head.position.distanceTo(eye) > NEAR_HEAD_M;
    }
    return false;
  }

  /** Alarm outlines breathe in and out (about ten redraws a second is enough for that). */
  private lastPulse = 0;
  private pulse(now: number): boolean {
    if (this.alarmIds.length === 0 || now - this.lastPulse < 90) return false;
    this.lastPulse = now;
    const phase = (now % ALARM_PULSE_MS) / ALARM_PULSE_MS;
    const strength = 0.5 + 0.5 * Math.sin(phase * Math.PI * 2);
    for (const helper of this.alarmOutlines) {
      const material = helper.material as LineBasicMaterial;
      material.opacity = 0.35 + 0.65 * strength;
      helper.scale.setScalar(1);
    }
    return true;
  }
}

/** The desktop camera's pose in Twinspace's z-up world (what presence carries). */
export function cameraPoseZUp(matrixWorld: Matrix4): { position: [number, number, number]; rotation: [number, number, number, number] } {
  const m = new Matrix4().copy(Z_UP_TO_Y_UP).invert().multiply(matrixWorld);
  const position = new Vector3();
  const rotation = new Quaternion();
  m.decompose(position, rotation, new Vector3());
  return { position: [position.x, position.y, position.z], rotation: [rotation.x, rotation.y, rotation.z, rotation.w] };
}

/** A y-up scene direction or point as z-up. */
export function toZUp(v: Vector3): [number, number, number] {
  const z = v.clone().applyMatrix4(new Matrix4().copy(Z_UP_TO_Y_UP).invert());
  return [z.x, z.y, z.z];
}
