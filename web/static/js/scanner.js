// Reading a code with the phone's camera: getUserMedia for the video, the browser's
// BarcodeDetector (where it exists) to read it. Typing always works: without a camera or a
// detector the scan buttons stay hidden and the inputs are typed.
import { el, t, toast } from "/web/static/js/finedge.js";

const FORMATS = ["code_128", "code_39", "qr_code", "data_matrix", "pdf417"];

/** Whether this browser can scan (a camera API and a barcode detector). */
export function canScan() {
  return Boolean(navigator.mediaDevices?.getUserMedia) && "BarcodeDetector" in window;
}

/**
 * Open the camera in `box` and resolve with the first code read (or null when stopped or the
 * camera is refused). `stopLabel`: the words of the stop button.
 */
export async function scanInto(box, stopLabel) {
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
  } catch {
    toast(t("m.supervisor.common.camera_refused"), "error");
    return null;
  }
  const supported = (await window.BarcodeDetector.getSupportedFormats?.()) || FORMATS;
  const detector = new window.BarcodeDetector({ formats: FORMATS.filter((f) => supported.includes(f)) });
  const video = el("video.scanner", { playsinline: true, muted: true, "aria-label": t("m.supervisor.common.scanner") });
  video.srcObject = stream;
  let stopped = false;
  const stop = el("button.btn.secondary.block", { type: "button", onclick: () => (stopped = true) }, stopLabel);
  box.replaceChildren(video, stop);
  box.hidden = false;
  await video.play().catch(() => {});
  try {
    while (!stopped) {
      const codes = await detector.detect(video).catch(() => []);
      if (codes.length) return codes[0].rawValue.trim();
      await new Promise((resolve) => requestAnimationFrame(resolve));
    }
    return null;
  } finally {
    stream.getTracks().forEach((track) => track.stop());
    box.replaceChildren();
    box.hidden = true;
  }
}
