// The 3D view of a world: three.js scene, lights, ground grid, camera with orbit
// and fly navigation, and the twins drawn in batches. Twins that share an asset
// share one InstancedMesh per material of that asset, so the number of draw
// calls grows with the number of distinct assets, not of twins (10,000 twins of
// six assets cost a few dozen calls). Picking, hover labels, the selection
// outline and colouring by a property all work on those batches.
//
// Twinspace's world is z-up (x east, y north, z up, metres); three.js and glTF
// are y-up. The `world` group turns one into the other, and each glTF asset is
// turned the other way once when its template is made.

import {
  ACESFilmicToneMapping,
  Box3,
  Box3Helper,
  BoxGeometry,
  BufferGeometry,
  Color,
  DirectionalLight,
  DynamicDrawUsage,
  Fog,
  GridHelper,
  Group,
  HemisphereLight,
  InstancedBufferAttribute,
  InstancedMesh,
  Material,
  Matrix4,
  Mesh,
  MeshStandardMaterial,
  PCFShadowMap,
  PerspectiveCamera,
  PMREMGenerator,
  Raycaster,
  Scene,
  SRGBColorSpace,
  Vector2,
  Vector3,
  WebGLRenderer,
} from 'three';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';
import { RoomEnvironment } from 'three/examples/jsm/environments/RoomEnvironment.js';
import { GLTFLoader } from 'three/examples/jsm/loaders/GLTFLoader.js';
import type { TwinSet } from './twins';

/** Beyond this many twins shadows are turned off: a laptop without a GPU renders them in software. */
const SHADOW_TWINS_MAX = 3_000;

/** Twinspace is z-up, three.js y-up: the world group turns one into the other. */
export const Z_UP_TO_Y_UP = new Matrix4().makeRotationX(-Math.PI / 2);
export const Y_UP_TO_Z_UP = new Matrix4().makeRotationX(Math.PI / 2);

/** One mesh of an asset: geometry and material, and where it sits in the asset (z-up). */
interface TemplatePart {
  geometry: BufferGeometry;
  material: Material;
  local: Matrix4;
  /** Tinted when twins are coloured by a property. */
  body: boolean;
  /** For a body: the same material without vertex colours, worn while colouring by a property so the tint reads true. */
  plain: Material | null;
}

interface Template {
  parts: TemplatePart[];
  /** Bounds in the asset's own z-up frame. */
  bounds: Box3;
}

/** Some of a batch's twins drawn with one template: one InstancedMesh per template part. */
interface Variant {
  template: Template;
  meshes: InstancedMesh[];
  /** The twin at each instance index. */
  ids: string[];
  index: Map<string, number>;
}

/**
 * The twins drawn with one asset. Near the camera they wear the full asset
 * (`near`); in large worlds, twins far away wear a box of the asset's size and
 * colour (`far`), so 10,000 machines cost a few hundred thousand triangles,
 * not millions, on a laptop that renders in software.
 */
interface Batch {
  key: string;
  template: Template;
  all: string[];
  near: Variant;
  far: Variant | null;
}

/** Worlds with more twins than this draw far twins as boxes (level of detail). */
const LOD_TWINS_MIN = 500;
/** Twins farther than this from the camera (metres) are drawn as boxes in such worlds. */
const LOD_DISTANCE_M = 70;
/** Least time between two re-sorts of twins into near and far while the camera moves. */
const LOD_UPDATE_MS = 200;

/** Half-period of an alarm's blink. */
const ALARM_BLINK_MS = 450;

/** Colours of the fallback shapes, per model's short name. */
const MODEL_COLORS: Record<string, number> = {
  Site: 0x3b4a3f,
  Area: 0x9aa3ab,
  Conveyor: 0xe0a526,
  RobotArm: 0xe05a1a,
  CncMachine: 0xd8dde2,
  Sensor: 0x2aa1d8,
};

function hashColor(text: string): Color {
  let h = 2166136261;
  for (let i = 0; i < text.length; i += 1) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return new Color().setHSL(((h >>> 0) % 360) / 360, 0.45, 0.55);
}

/** Where an asset reference is fetched from, or null for "draw the default shape". */
export function assetUrl(asset: string | null | undefined): string | null {
  if (!asset) return null;
  if (asset.startsWith('asset:')) {
    const id = asset.slice('asset:'.length);
    return /^[a-z0-9][a-z0-9._-]{0,63}$/i.test(id) ? `/glb/${id}.glb` : null;
  }
  if (/^https?:\/\//.test(asset) || asset.startsWith('/')) return asset;
  return null;
}

export interface ViewStats {
  drawCalls: number;
  triangles: number;
  batches: number;
  instances: number;
  /** Twins drawn with a default shape (no asset, or it is loading or failed). */
  fallbackInstances: number;
  frames: number;
  frameMs: number;
}

export class View {
  readonly renderer: WebGLRenderer;
  readonly scene = new Scene();
  readonly camera = new PerspectiveCamera(50, 1, 0.1, 5000);
  readonly controls: OrbitControls;
  /** z-up world root. */
  private readonly world = new Group();
  private readonly batches = new Map<string, Batch>();
  private readonly batchOf = new Map<string, Batch>();
  private readonly farTemplates = new Map<Template, Template>();
  private lod = false;
  private lastPartition = 0;
  private readonly templates = new Map<string, Template>();
  private readonly loading = new Map<string, Promise<Template | null>>();
  private readonly loader = new GLTFLoader();
  private readonly sun: DirectionalLight;
  private readonly grid: GridHelper;
  private readonly selection: Box3Helper;
  private readonly hover: Box3Helper;
  private readonly raycaster = new Raycaster();
  private twins: TwinSet | null = null;
  private colorOf: ((id: string) => Color | null) | null = null;
  private dirty = true;
  private cameraMoved = false;
  private keys = new Set<string>();
  private stats: ViewStats = { drawCalls: 0, triangles: 0, batches: 0, instances: 0, fallbackInstances: 0, frames: 0, frameMs: 0 };
  private lastFrame = performance.now();
  private flight: { from: Vector3; to: Vector3; fromTarget: Vector3; toTarget: Vector3; start: number } | null = null;
  private alarms: string[] = [];
  private alarmPhase = false;
  selectedId: string | null = null;
  hoveredId: string | null = null;
  onPick: (id: string | null) => void = () => {};
  onHover: (id: string | null, x: number, y: number) => void = () => {};
  /**
   * Called every animation frame before rendering; a hook returning true asks
   * for this frame to be drawn (something it shows is moving).
   */
  readonly frameHooks: Array<(now: number) => boolean> = [];
  /** Called when the pointer moves over the view, with the ray under it in y-up world space. */
  onPointerRay: (origin: Vector3, direction: Vector3) => void = () => {};
  /** Called (at most once a frame) after the camera moved, with its target and distance in Twinspace's z-up coordinates. */
  onCameraMove: (target: [number, number, number], distance: number) => void = () => {};

  constructor(private readonly container: HTMLElement) {
    this.renderer = new WebGLRenderer({ antialias: true, powerPreference: 'high-performance' });
    this.renderer.setPixelRatio(Math.min(window.devicePixelRatio, 2));
    this.renderer.outputColorSpace = SRGBColorSpace;
    this.renderer.toneMapping = ACESFilmicToneMapping;
    this.renderer.toneMappingExposure = 1.05;
    this.renderer.shadowMap.enabled = true;
    this.renderer.shadowMap.type = PCFShadowMap;
    // WebXR sessions (Enter VR / AR) render through the same renderer.
    this.renderer.xr.enabled = true;
    container.appendChild(this.renderer.domElement);

    const sky = new Color(0xc9d6e3);
    this.scene.background = sky;
    this.scene.fog = new Fog(sky, 250, 900);

    this.world.matrixAutoUpdate = false;
    this.world.matrix.copy(Z_UP_TO_Y_UP);
    this.world.updateMatrixWorld(true);
    this.scene.add(this.world);

    // A soft room for reflections: without it metal renders black.
    const pmrem = new PMREMGenerator(this.renderer);
    this.scene.environment = pmrem.fromScene(new RoomEnvironment(), 0.04).texture;
    this.scene.environmentIntensity = 0.45;
    pmrem.dispose();

    const hemi = new HemisphereLight(0xf2f6ff, 0x5a5548, 1.3);
    this.scene.add(hemi);
    this.sun = new DirectionalLight(0xfff4e0, 2.4);
    this.sun.position.set(-60, 120, 80);
    this.sun.castShadow = true;
    this.sun.shadow.mapSize.set(2048, 2048);
    this.sun.shadow.bias = -0.0004;
    this.sun.shadow.normalBias = 0.03;
    this.scene.add(this.sun, this.sun.target);

    this.grid = new GridHelper(400, 80, 0x7d8a96, 0xa9b4be);
    this.grid.position.y = -0.5;
    this.scene.add(this.grid);

    this.selection = new Box3Helper(new Box3(), new Color(0x00e0ff));
    this.hover = new Box3Helper(new Box3(), new Color(0xffffff));
    this.selection.visible = false;
    this.hover.visible = false;
    this.scene.add(this.selection, this.hover);

    this.camera.position.set(-20, 60, 70);
    this.controls = new OrbitControls(this.camera, this.renderer.domElement);
    this.controls.enableDamping = true;
    this.controls.dampingFactor = 0.12;
    this.controls.maxPolarAngle = Math.PI * 0.495;
    this.controls.minDistance = 1.5;
    this.controls.maxDistance = 1500;
    this.controls.screenSpacePanning = false;
    this.controls.addEventListener('change', () => {
      this.invalidate();
      this.cameraMoved = true;
    });

    // Twins in an alarm state blink between their colour and white, so they are
    // seen at once even among many.
    window.setInterval(() => {
      if (this.alarms.length === 0 || !this.colorOf) return;
      this.alarmPhase = !this.alarmPhase;
      this.updateTwins(this.alarms);
    }, ALARM_BLINK_MS);
    new ResizeObserver(() => this.resize()).observe(container);
    this.resize();
    this.bindInput();
    this.renderer.setAnimationLoop(() => this.frame());
  }

  invalidate(): void {
    this.dirty = true;
  }

  getStats(): ViewStats {
    return { ...this.stats };
  }

  private resize(): void {
    const { clientWidth: w, clientHeight: h } = this.container;
    if (w === 0 || h === 0) return;
    this.renderer.setSize(w, h, false);
    this.renderer.domElement.style.width = '100%';
    this.renderer.domElement.style.height = '100%';
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
    this.invalidate();
  }

  // ------------------------------------------------------------ input

  private bindInput(): void {
    const canvas = this.renderer.domElement;
    canvas.tabIndex = 0;
    let down: { x: number; y: number } | null = null;
    let pendingHover: PointerEvent | null = null;
    canvas.addEventListener('pointerdown', (e) => {
      down = { x: e.clientX, y: e.clientY };
      canvas.focus();
    });
    canvas.addEventListener('pointerup', (e) => {
      // A click, not the end of a drag.
      if (down && Math.hypot(e.clientX - down.x, e.clientY - down.y) < 5) {
        this.onPick(this.pick(e.clientX, e.clientY));
      }
      down = null;
    });
    canvas.addEventListener('dblclick', (e) => {
      const id = this.pick(e.clientX, e.clientY);
      if (id) this.focus(id);
    });
    canvas.addEventListener('pointermove', (e) => {
      pendingHover = e;
      const rect = canvas.getBoundingClientRect();
      const ndc = new Vector2(((e.clientX - rect.left) / rect.width) * 2 - 1, -((e.clientY - rect.top) / rect.height) * 2 + 1);
      this.raycaster.setFromCamera(ndc, this.camera);
      this.onPointerRay(this.raycaster.ray.origin.clone(), this.raycaster.ray.direction.clone());
    });
    canvas.addEventListener('pointerleave', () => {
      pendingHover = null;
      this.setHover(null, 0, 0);
    });
    const hoverTick = () => {
      if (pendingHover && !down) {
        const e = pendingHover;
        pendingHover = null;
        this.setHover(this.pick(e.clientX, e.clientY), e.clientX, e.clientY);
      }
      requestAnimationFrame(hoverTick);
    };
    requestAnimationFrame(hoverTick);
    window.addEventListener('keydown', (e) => {
      if ((e.target as HTMLElement | null)?.closest?.('input, select, textarea')) return;
      this.keys.add(e.key.toLowerCase());
      if (e.key === 'f' && this.selectedId) this.focus(this.selectedId);
      if (e.key === 'Escape') this.onPick(null);
      this.invalidate();
    });
    window.addEventListener('keyup', (e) => this.keys.delete(e.key.toLowerCase()));
    window.addEventListener('blur', () => this.keys.clear());
  }

  private setHover(id: string | null, x: number, y: number): void {
    if (id !== this.hoveredId) {
      this.hoveredId = id;
      this.updateOutline(this.hover, id === this.selectedId ? null : id);
    }
    this.onHover(id, x, y);
  }

  /** The twin under a point of the page, if any. */
  pick(clientX: number, clientY: number): string | null {
    const rect = this.renderer.domElement.getBoundingClientRect();
    const ndc = new Vector2(((clientX - rect.left) / rect.width) * 2 - 1, -((clientY - rect.top) / rect.height) * 2 + 1);
    this.raycaster.setFromCamera(ndc, this.camera);
    const hits = this.raycaster.intersectObjects([...this.meshes()], false);
    for (const hit of hits) {
      const variant = (hit.object.userData as { variant?: Variant }).variant;
      if (variant && hit.instanceId !== undefined) return variant.ids[hit.instanceId] ?? null;
    }
    return null;
  }

  /** Where a twin's centre is on the page (for tests and labels), or null when behind the camera. */
  screenPosition(id: string): { x: number; y: number } | null {
    const box = this.worldBox(id);
    if (!box) return null;
    const centre = box.getCenter(new Vector3()).project(this.camera);
    if (centre.z > 1) return null;
    const rect = this.renderer.domElement.getBoundingClientRect();
    return { x: rect.left + ((centre.x + 1) / 2) * rect.width, y: rect.top + ((1 - centre.y) / 2) * rect.height };
  }

  // ------------------------------------------------------------ twins

  /** Draws the twin set; call again after it changes. */
  setTwins(twins: TwinSet): void {
    this.twins = twins;
    const groups = new Map<string, string[]>();
    for (const twin of twins.twins.values()) {
      if (!twin.placement) continue;
      const key = assetUrl(twin.placement.asset) ?? `shape:${twin.model}`;
      const list = groups.get(key) ?? [];
      list.push(twin.id);
      groups.set(key, list);
    }
    for (const [key, batch] of this.batches) {
      if (!groups.has(key)) this.dropBatch(key, batch);
    }
    let instances = 0;
    for (const ids of groups.values()) instances += ids.length;
    this.lod = instances > LOD_TWINS_MIN;
    let fallbacks = 0;
    for (const [key, ids] of groups) {
      const template = this.templateFor(key);
      if (!this.templates.has(key)) fallbacks += ids.length;
      const existing = this.batches.get(key);
      if (existing && existing.template === template && sameIds(existing.all, ids) && Boolean(existing.far) === this.wantsLod(template)) {
        this.partition(existing, true);
      } else {
        if (existing) this.dropBatch(key, existing);
        this.makeBatch(key, template, ids);
      }
    }
    const shadows = instances <= SHADOW_TWINS_MAX;
    if (this.renderer.shadowMap.enabled !== shadows) {
      this.renderer.shadowMap.enabled = shadows;
      for (const mesh of this.meshes()) mesh.castShadow = mesh.receiveShadow = shadows;
    }
    this.stats.batches = this.batches.size;
    this.stats.instances = instances;
    this.stats.fallbackInstances = fallbacks;
    this.fitShadow();
    this.updateOutline(this.selection, this.selectedId);
    this.invalidate();
  }

  private *meshes(): Generator<InstancedMesh> {
    for (const batch of this.batches.values()) {
      yield* batch.near.meshes;
      if (batch.far) yield* batch.far.meshes;
    }
  }

  /** Whether a template gets a far (box) variant: only small things in large worlds. */
  private wantsLod(template: Template): boolean {
    return this.lod && template.bounds.getSize(new Vector3()).length() < 12;
  }

  /** Updates the pose and colour of some twins (their batches are unchanged). */
  updateTwins(ids: Iterable<string>): void {
    const touched = new Set<Variant>();
    for (const id of ids) {
      const batch = this.batchOf.get(id);
      if (!batch) continue;
      const variant = batch.near.index.has(id) ? batch.near : batch.far;
      if (!variant) continue;
      this.placeOne(variant, id, variant.index.get(id) ?? 0);
      touched.add(variant);
    }
    for (const variant of touched) this.uploaded(variant, true);
    this.updateOutline(this.selection, this.selectedId);
    this.invalidate();
  }

  /** Updates only the colour of some twins (their values changed, not their places). */
  recolor(ids: Iterable<string>): void {
    if (!this.colorOf) return;
    const touched = new Set<Variant>();
    for (const id of ids) {
      const batch = this.batchOf.get(id);
      const variant = batch ? (batch.near.index.has(id) ? batch.near : batch.far) : null;
      const slot = variant?.index.get(id);
      if (!variant || slot === undefined) continue;
      this.colorOne(variant, id, slot);
      touched.add(variant);
    }
    for (const variant of touched) for (const mesh of variant.meshes) if (mesh.instanceColor) mesh.instanceColor.needsUpdate = true;
    this.invalidate();
  }

  private templateFor(key: string): Template {
    const loaded = this.templates.get(key);
    if (loaded) return loaded;
    if (!key.startsWith('shape:') && !this.loading.has(key)) this.load(key);
    return this.fallbackTemplate(key);
  }

  private fallbackTemplate(key: string): Template {
    const cacheKey = `fallback:${key}`;
    const cached = this.templates.get(cacheKey);
    if (cached) return cached;
    const model = key.startsWith('shape:') ? key.slice(6).split(':').pop()?.split(';')[0] ?? '' : '';
    const size = model === 'Sensor' ? [0.4, 0.4, 0.4] : model === 'Area' || model === 'Site' ? [4, 4, 0.2] : [1, 1, 1];
    const [sx, sy, sz] = size as [number, number, number];
    const geometry = new BoxGeometry(sx, sy, sz);
    geometry.translate(0, 0, sz / 2);
    const color = MODEL_COLORS[model] !== undefined ? new Color(MODEL_COLORS[model]) : hashColor(key);
    const material = new MeshStandardMaterial({ color, roughness: 0.6, metalness: 0.1 });
    const template: Template = {
      parts: [{ geometry, material, local: new Matrix4(), body: true, plain: null }],
      bounds: new Box3(new Vector3(-sx / 2, -sy / 2, 0), new Vector3(sx / 2, sy / 2, sz)),
    };
    this.templates.set(cacheKey, template);
    return template;
  }

  private load(url: string): void {
    const promise = this.loader
      .loadAsync(url)
      .then((gltf) => {
        const parts: TemplatePart[] = [];
        const bounds = new Box3();
        gltf.scene.updateMatrixWorld(true);
        gltf.scene.traverse((object) => {
          const mesh = object as Mesh;
          if (!mesh.isMesh) return;
          const local = Y_UP_TO_Z_UP.clone().multiply(mesh.matrixWorld);
          const material = Array.isArray(mesh.material) ? mesh.material[0] : mesh.material;
          if (!material) return;
          const role = (material.userData as { role?: string }).role;
          mesh.geometry.computeBoundingBox();
          const box = mesh.geometry.boundingBox?.clone().applyMatrix4(local);
          if (box) bounds.union(box);
          const body = role === 'body';
          let plain: Material | null = null;
          if (body && (material as MeshStandardMaterial).isMeshStandardMaterial) {
            const copy = (material as MeshStandardMaterial).clone();
            copy.vertexColors = false;
            copy.color.set(0xffffff);
            plain = copy;
          }
          parts.push({ geometry: mesh.geometry, material, local, body, plain });
        });
        if (parts.length === 0) throw new Error('the asset has no meshes');
        const template = { parts, bounds };
        this.templates.set(url, template);
        if (this.twins) this.setTwins(this.twins);
        return template;
      })
      .catch((error: unknown) => {
        // A missing or broken asset keeps its twins on the default shape.
        console.warn(`asset ${url} could not be loaded; default shapes are drawn instead`, error);
        return null;
      });
    this.loading.set(url, promise);
  }

  /** Resolves when every asset that was asked for has loaded or failed. */
  async assetsSettled(): Promise<void> {
    await Promise.all(this.loading.values());
  }

  private makeVariant(template: Template, capacity: number, castShadow: boolean): Variant {
    const variant: Variant = { template, meshes: [], ids: [], index: new Map() };
    const shadows = this.renderer.shadowMap.enabled;
    for (const part of template.parts) {
      const mesh = new InstancedMesh(part.geometry, this.colorOf && part.plain ? part.plain : part.material, capacity);
      mesh.instanceMatrix.setUsage(DynamicDrawUsage);
      mesh.instanceColor = new InstancedBufferAttribute(new Float32Array(capacity * 3).fill(1), 3);
      mesh.instanceColor.setUsage(DynamicDrawUsage);
      mesh.userData = { variant };
      mesh.castShadow = shadows && castShadow;
      mesh.receiveShadow = shadows;
      mesh.count = 0;
      variant.meshes.push(mesh);
      this.world.add(mesh);
    }
    return variant;
  }

  private makeBatch(key: string, template: Template, ids: string[]): void {
    const castShadow = !key.endsWith('/site.glb');
    const batch: Batch = {
      key,
      template,
      all: [...ids],
      near: this.makeVariant(template, ids.length, castShadow),
      far: this.wantsLod(template) ? this.makeVariant(this.farTemplate(template), ids.length, castShadow) : null,
    };
    for (const id of ids) this.batchOf.set(id, batch);
    this.batches.set(key, batch);
    this.partition(batch, true);
  }

  private dropBatch(key: string, batch: Batch): void {
    for (const variant of [batch.near, batch.far]) {
      for (const mesh of variant?.meshes ?? []) {
        this.world.remove(mesh);
        mesh.dispose();
      }
    }
    for (const id of batch.all) if (this.batchOf.get(id) === batch) this.batchOf.delete(id);
    this.batches.delete(key);
  }

  /**
   * Sorts a batch's twins into near and far by their distance from the camera
   * (all near without a far variant) and redraws what changed, or everything
   * when `force` is set.
   */
  private partition(batch: Batch, force: boolean): void {
    let near = batch.all;
    let far: string[] = [];
    if (batch.far && this.twins) {
      near = [];
      const eye = this.camera.position;
      // The camera in Twinspace's z-up coordinates.
      const ex = eye.x, ey = -eye.z, ez = eye.y;
      const limit = LOD_DISTANCE_M * LOD_DISTANCE_M;
      for (const id of batch.all) {
        const p = this.twins.pose(id).position;
        const d = (p.x - ex) ** 2 + (p.y - ey) ** 2 + (p.z - ez) ** 2;
        if (d < limit || id === this.selectedId) near.push(id);
        else far.push(id);
      }
    }
    const assign = (variant: Variant, ids: string[]) => {
      if (!force && sameIds(variant.ids, ids)) return;
      variant.ids = ids;
      variant.index = new Map(ids.map((id, i) => [id, i]));
      for (const mesh of variant.meshes) mesh.count = ids.length;
      ids.forEach((id, slot) => this.placeOne(variant, id, slot));
      this.uploaded(variant, true);
    };
    assign(batch.near, near);
    if (batch.far) assign(batch.far, far);
  }

  /** Marks a variant's instance data for upload to the GPU. */
  private uploaded(variant: Variant, moved: boolean): void {
    for (const mesh of variant.meshes) {
      mesh.instanceMatrix.needsUpdate = true;
      if (mesh.instanceColor) mesh.instanceColor.needsUpdate = true;
      if (moved) mesh.computeBoundingSphere();
    }
  }

  private readonly scratch = new Matrix4();
  private readonly twinMatrix = new Matrix4();
  private readonly white = new Color(1, 1, 1);

  private placeOne(variant: Variant, id: string, slot: number): void {
    if (!this.twins) return;
    const pose = this.twins.pose(id);
    this.twinMatrix.compose(pose.position, pose.rotation, pose.scale);
    variant.meshes.forEach((mesh, i) => {
      const part = variant.template.parts[i];
      if (!part) return;
      this.scratch.multiplyMatrices(this.twinMatrix, part.local);
      mesh.setMatrixAt(slot, this.scratch);
    });
    this.colorOne(variant, id, slot);
  }

  private colorOne(variant: Variant, id: string, slot: number): void {
    let tint = this.colorOf ? this.colorOf(id) : null;
    if (tint && this.alarmPhase && this.alarms.includes(id)) tint = ALARM_FLASH;
    variant.meshes.forEach((mesh, i) => {
      const part = variant.template.parts[i];
      if (!part) return;
      // Colour-by: the body takes the value's colour, the rest is muted so the
      // colours read at a glance.
      const color = this.colorOf ? (part.body ? (tint ?? MUTED) : DIMMED) : this.white;
      mesh.setColorAt(slot, color);
    });
  }

  /** A box of the template's size and average colour, for twins far away. */
  private farTemplate(template: Template): Template {
    const cached = this.farTemplates.get(template);
    if (cached) return cached;
    const size = template.bounds.getSize(new Vector3());
    const centre = template.bounds.getCenter(new Vector3());
    const geometry = new BoxGeometry(size.x, size.y, size.z);
    geometry.translate(centre.x, centre.y, centre.z);
    // The average vertex colour of the body, or of everything.
    const sum = new Color(0, 0, 0);
    let weight = 0;
    for (const part of template.parts) {
      const colors = part.geometry.getAttribute('color');
      if (!colors || (!part.body && weight > 0)) continue;
      for (let i = 0; i < colors.count; i += 1) {
        sum.r += colors.getX(i);
        sum.g += colors.getY(i);
        sum.b += colors.getZ(i);
      }
      weight += colors.count;
    }
    const color = weight > 0 ? new Color(sum.r / weight, sum.g / weight, sum.b / weight) : new Color(0x9aa3ab);
    const material = new MeshStandardMaterial({ color, roughness: 0.7, metalness: 0.1 });
    const plain = new MeshStandardMaterial({ color: 0xffffff, roughness: 0.7, metalness: 0.1 });
    const far: Template = { parts: [{ geometry, material, local: new Matrix4(), body: true, plain }], bounds: template.bounds.clone() };
    this.farTemplates.set(template, far);
    return far;
  }

  /** Replaces the colouring function without repainting (the caller recolours what changed). */
  setColoringQuietly(colorOf: (id: string) => Color | null): void {
    this.colorOf = colorOf;
  }

  /** Colours twins by a function of their id (null: the property's "no value" grey); null restores their own colours. */
  setColoring(colorOf: ((id: string) => Color | null) | null, alarms: string[] = []): void {
    this.alarms = alarms;
    this.colorOf = colorOf;
    for (const batch of this.batches.values()) {
      for (const variant of [batch.near, batch.far]) {
        if (!variant) continue;
        variant.meshes.forEach((mesh, i) => {
          const part = variant.template.parts[i];
          if (part?.plain) mesh.material = colorOf ? part.plain : part.material;
        });
        variant.ids.forEach((id, slot) => this.colorOne(variant, id, slot));
        this.uploaded(variant, false);
      }
    }
    this.invalidate();
  }

  /** The twin's bounds in three.js (y-up) world coordinates. */
  worldBox(id: string): Box3 | null {
    if (!this.twins) return null;
    const batch = this.batchOf.get(id);
    if (!batch) return null;
    const pose = this.twins.pose(id);
    const m = new Matrix4().compose(pose.position, pose.rotation, pose.scale).premultiply(Z_UP_TO_Y_UP);
    return batch.template.bounds.clone().applyMatrix4(m);
  }

  select(id: string | null): void {
    this.selectedId = id;
    // The selected twin always wears its full asset.
    if (this.lod) for (const batch of this.batches.values()) if (batch.far) this.partition(batch, false);
    this.updateOutline(this.selection, id);
    if (id === this.hoveredId) this.updateOutline(this.hover, null);
  }

  private updateOutline(helper: Box3Helper, id: string | null): void {
    const box = id ? this.worldBox(id) : null;
    if (box) {
      helper.box.copy(box).expandByScalar(0.08);
      helper.visible = true;
    } else {
      helper.visible = false;
    }
    this.invalidate();
  }

  /** Flies the camera to look at a twin. */
  focus(id: string): void {
    const box = this.worldBox(id);
    if (!box) return;
    const centre = box.getCenter(new Vector3());
    const radius = Math.max(box.getSize(new Vector3()).length() / 2, 1.5);
    const direction = this.camera.position.clone().sub(this.controls.target).normalize();
    const distance = Math.min(Math.max(radius * 2.8, 6), 400);
    this.flight = {
      from: this.camera.position.clone(),
      to: centre.clone().add(direction.multiplyScalar(distance)),
      fromTarget: this.controls.target.clone(),
      toTarget: centre,
      start: performance.now(),
    };
    this.invalidate();
  }

  /** Frames everything drawn (after a world is opened). */
  frameAll(): void {
    const box = new Box3();
    for (const mesh of this.meshes()) {
      if (mesh.count === 0) continue;
      mesh.computeBoundingBox();
      if (mesh.boundingBox) box.union(mesh.boundingBox.clone().applyMatrix4(mesh.matrixWorld));
    }
    if (box.isEmpty()) return;
    const centre = box.getCenter(new Vector3());
    const size = box.getSize(new Vector3()).length();
    this.controls.target.copy(centre);
    this.camera.position.copy(centre.clone().add(new Vector3(-0.3, 0.9, 0.62).normalize().multiplyScalar(size * 0.62)));
    this.camera.near = Math.max(size / 2000, 0.05);
    this.camera.far = Math.max(size * 20, 2000);
    this.camera.updateProjectionMatrix();
    this.controls.update();
    this.grid.position.set(Math.round(centre.x / 5) * 5, -0.5, Math.round(centre.z / 5) * 5);
    this.invalidate();
  }

  /** Keeps the sun's shadow camera around what is drawn. */
  private fitShadow(): void {
    const box = new Box3();
    for (const mesh of this.meshes()) {
      if (mesh.count === 0) continue;
      mesh.computeBoundingBox();
      if (mesh.boundingBox) box.union(mesh.boundingBox.clone().applyMatrix4(mesh.matrixWorld));
    }
    if (box.isEmpty()) return;
    const centre = box.getCenter(new Vector3());
    const radius = box.getSize(new Vector3()).length() / 2;
    this.sun.target.position.copy(centre);
    this.sun.position.copy(centre).add(new Vector3(-0.45, 0.8, 0.4).normalize().multiplyScalar(radius * 2));
    const cam = this.sun.shadow.camera;
    cam.left = -radius;
    cam.right = radius;
    cam.top = radius;
    cam.bottom = -radius;
    cam.near = 0.1;
    cam.far = radius * 4;
    cam.updateProjectionMatrix();
    this.sun.shadow.needsUpdate = true;
  }

  // ------------------------------------------------------------ frames

  private frame(): void {
    const now = performance.now();
    const dt = Math.min((now - this.lastFrame) / 1000, 0.1);
    this.lastFrame = now;
    this.fly(dt);
    if (this.flight) {
      const t = Math.min((now - this.flight.start) / 650, 1);
      const ease = t < 0.5 ? 4 * t * t * t : 1 - Math.pow(-2 * t + 2, 3) / 2;
      this.camera.position.lerpVectors(this.flight.from, this.flight.to, ease);
      this.controls.target.lerpVectors(this.flight.fromTarget, this.flight.toTarget, ease);
      if (t >= 1) this.flight = null;
      this.dirty = true;
    }
    if (this.controls.update()) this.dirty = true;
    if (this.lod && this.cameraMoved && now - this.lastPartition > LOD_UPDATE_MS) {
      this.lastPartition = now;
      for (const batch of this.batches.values()) if (batch.far) this.partition(batch, false);
      this.dirty = true;
    }
    if (this.cameraMoved) {
      this.cameraMoved = false;
      // What is under the pointer changed: the label waits for the next move.
      if (this.hoveredId) this.setHover(null, 0, 0);
      const t = this.controls.target;
      this.onCameraMove([t.x, -t.z, t.y], this.camera.position.distanceTo(t));
    }
    for (const hook of this.frameHooks) if (hook(now)) this.dirty = true;
    // An XR session draws every frame: the head moves even when nothing else does.
    if (this.renderer.xr.isPresenting) this.dirty = true;
    if (!this.dirty) return;
    this.dirty = false;
    const start = performance.now();
    this.renderer.render(this.scene, this.camera);
    this.stats.frameMs = performance.now() - start;
    this.stats.drawCalls = this.renderer.info.render.calls;
    this.stats.triangles = this.renderer.info.render.triangles;
    this.stats.frames += 1;
  }

  /** WASD/arrow keys move over the ground, Q/E down and up; Shift is faster. */
  private fly(dt: number): void {
    if (this.keys.size === 0) return;
    const forward = new Vector3();
    this.camera.getWorldDirection(forward);
    forward.y = 0;
    forward.normalize();
    const right = new Vector3().crossVectors(forward, new Vector3(0, 1, 0)).normalize();
    const move = new Vector3();
    const k = this.keys;
    if (k.has('w') || k.has('arrowup')) move.add(forward);
    if (k.has('s') || k.has('arrowdown')) move.sub(forward);
    if (k.has('d') || k.has('arrowright')) move.add(right);
    if (k.has('a') || k.has('arrowleft')) move.sub(right);
    if (k.has('e')) move.y += 1;
    if (k.has('q')) move.y -= 1;
    if (move.lengthSq() === 0) return;
    const distance = this.camera.position.distanceTo(this.controls.target);
    const speed = Math.max(distance * 0.6, 4) * (k.has('shift') ? 3 : 1);
    move.normalize().multiplyScalar(speed * dt);
    this.camera.position.add(move);
    this.controls.target.add(move);
    this.dirty = true;
  }

  /**
   * Renders `frames` frames while orbiting a little, reading a pixel after each
   * so the GPU (or the software renderer) has finished: milliseconds per frame
   * and the draw calls of the last one.
   */
  benchFrames(frames: number): { frames: number; msPerFrame: number; drawCalls: number; triangles: number } {
    const count = Math.max(1, Math.min(frames, 1_000));
    const gl = this.renderer.getContext();
    const pixel = new Uint8Array(4);
    const target = this.controls.target.clone();
    const offset = this.camera.position.clone().sub(target);
    const start = performance.now();
    for (let i = 0; i < count; i += 1) {
      offset.applyAxisAngle(new Vector3(0, 1, 0), 0.01);
      this.camera.position.copy(target).add(offset);
      this.camera.lookAt(target);
      this.renderer.render(this.scene, this.camera);
      gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, pixel);
    }
    const msPerFrame = (performance.now() - start) / count;
    this.invalidate();
    return { frames: count, msPerFrame, drawCalls: this.renderer.info.render.calls, triangles: this.renderer.info.render.triangles };
  }

  /**
   * Renders now and samples the canvas on a grid: how many samples differ from
   * the most common colour (the sky or the floor) and how many distinct colours
   * there are. A blank or failed canvas has one colour.
   */
  samplePixels(): { sampled: number; varied: number; distinct: number } {
    this.renderer.render(this.scene, this.camera);
    const gl = this.renderer.getContext();
    const { width, height } = this.renderer.domElement;
    const step = 12;
    const pixel = new Uint8Array(4);
    const counts = new Map<number, number>();
    let sampled = 0;
    for (let y = step / 2; y < height; y += step) {
      for (let x = step / 2; x < width; x += step) {
        gl.readPixels(x, y, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, pixel);
        sampled += 1;
        const [r = 0, g = 0, b = 0] = pixel;
        const key = (r >> 3) * 1024 + (g >> 3) * 32 + (b >> 3);
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }
    const mode = Math.max(0, ...counts.values());
    return { sampled, varied: sampled - mode, distinct: counts.size };
  }
}

const MUTED = new Color(0x8a9099);
const ALARM_FLASH = new Color(1, 0.85, 0.85);
const DIMMED = new Color(0.55, 0.57, 0.6);

function sameIds(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}

