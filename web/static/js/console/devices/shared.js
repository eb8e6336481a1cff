// What the devices pages share: the device kinds and lifecycle states, a state's badge, and
// credentials shown once.
import { badge, label, t } from "/web/static/js/finedge.js";
import { showOnce } from "/web/static/js/console/admin/kit.js";

export const KINDS = ["caller", "camera", "cash", "counter", "display", "edge", "kiosk", "lock"];
export const STATES = ["provisioned", "active", "maintenance", "retired"];
const STATE_BADGE = { active: "ok", provisioned: "weak", maintenance: "warn", retired: "" };

export function stateBadge(status) {
  return badge(label(status, "devices"), STATE_BADGE[status]);
}

export function onlineBadge(online) {
  return online ? badge(t("console.devices.online_yes"), "ok") : badge(t("console.devices.online_no"), "bad");
}

/** A device's new credentials, once: after the dialog closes they exist nowhere here. */
export function credentialsOnce(creds) {
  return showOnce(
    {
      title: t("console.devices.creds.title", { id: creds.device_id }),
      warning: t("console.devices.creds.warning"),
      copy: t("console.devices.creds.copy"),
      copied: t("console.devices.creds.copied"),
      close: t("console.devices.creds.close"),
    },
    [
      [t("console.devices.creds.username"), creds.mqtt_username, "mqtt_username"],
      [t("console.devices.creds.password"), creds.mqtt_password, "mqtt_password"],
      [t("console.devices.creds.hmac"), creds.hmac_secret, "hmac_secret"],
    ],
  );
}
