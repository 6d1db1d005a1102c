// Enter VR / Enter AR: WebXR sessions through the view's renderer. A button is
// shown only when `navigator.xr` says the browser and a device support that
// session mode, so a desktop without a headset shows neither. While a session
// runs, the headset's head pose and the two controllers' (or hands') grip poses
// are handed to `onPoses` every frame; the caller sends them as presence (the
// live source holds that to 30 a second).

import { Matrix4, type XRTargetRaySpace } from 'three';
import { cameraPoseZUp } from './overlays';
import type { View } from './view';

export type XrMode = 'immersive-vr' | 'immersive-ar';

export interface XrPoses {
  head: ReturnType<typeof cameraPoseZUp>;
  leftHand?: ReturnType<typeof cameraPoseZUp>;
  rightHand?: ReturnType<typeof cameraPoseZUp>;
}

/** Whether the browser can run a session of this mode (false when WebXR is missing or the check fails). */
export async function xrSupported(mode: XrMode): Promise<boolean> {
  const xr = (navigator as Navigator & { xr?: { isSessionSupported(mode: string): Promise<boolean> } }).xr;
  if (!xr) return false;
  try {
    return await xr.isSessionSupported(mode);
  } catch {
    return false;
  }
}

export class XrButtons {
  private session: XRSession | null = null;
  private readonly controllers: XRTargetRaySpace[];
  /** What the check found, for the tests (`navigator.xr` present, modes supported). */
  readonly state = { api: false, vr: false, ar: false, presenting: false };

  constructor(
    private readonly view: View,
    private readonly vrButton: HTMLButtonElement,
    private readonly arButton: HTMLButtonElement,
    private readonly onPoses: (poses: XrPoses) => void,
    private readonly onError: (message: string) => void,
  ) {
    this.controllers = [view.renderer.xr.getControllerGrip(0), view.renderer.xr.getControllerGrip(1)] as unknown as XRTargetRaySpace[];
    for (const c of this.controllers) view.scene.add(c);
    vrButton.hidden = true;
    arButton.hidden = true;
    vrButton.onclick = () => void this.toggle('immersive-vr');
    arButton.onclick = () => void this.toggle('immersive-ar');
    view.frameHooks.push(() => this.frame());
  }

  /** Asks the browser which modes it supports and shows those buttons. */
  async detect(): Promise<void> {
    this.state.api = 'xr' in navigator;
    const [vr, ar] = await Promise.all([xrSupported('immersive-vr'), xrSupported('immersive-ar')]);
    this.state.vr = vr;
    this.state.ar = ar;
    this.vrButton.hidden = !vr;
    this.arButton.hidden = !ar;
  }

  private async toggle(mode: XrMode): Promise<void> {
    if (this.session) {
      await this.session.end();
      return;
    }
    const xr = (navigator as Navigator & { xr?: XRSystem }).xr;
    if (!xr) return;
    try {
      const session = await xr.requestSession(mode, { optionalFeatures: ['local-floor', 'hand-tracking'] });
      this.session = session;
      this.state.presenting = true;
      const button = mode === 'immersive-vr' ? this.vrButton : this.arButton;
      const label = button.textContent;
      button.textContent = mode === 'immersive-vr' ? 'Exit VR' : 'Exit AR';
      // AR shows the room behind the factory: no sky.
      const background = this.view.scene.background;
      if (mode === 'immersive-ar') this.view.scene.background = null;
      session.addEventListener('end', () => {
        this.session = null;
        this.state.presenting = false;
        button.textContent = label;
        this.view.scene.background = background;
        this.view.invalidate();
      });
      this.view.renderer.xr.setReferenceSpaceType('local-floor');
      await this.view.renderer.xr.setSession(session);
    } catch (error) {
      this.onError(`The headset session could not start: ${error instanceof Error ? error.message : String(error)}.`);
    }
  }

  /** Every frame of a session: the poses, handed on (the live source paces them). */
  private frame(): boolean {
    if (!this.session || !this.view.renderer.xr.isPresenting) return false;
    const camera = this.view.renderer.xr.getCamera();
    const poses: XrPoses = { head: cameraPoseZUp(camera.matrixWorld) };
    const [left, right] = this.controllers;
    if (left?.visible) poses.leftHand = cameraPoseZUp(new Matrix4().copy(left.matrixWorld));
    if (right?.visible) poses.rightHand = cameraPoseZUp(new Matrix4().copy(right.matrixWorld));
    this.onPoses(poses);
    return true;
  }
}
