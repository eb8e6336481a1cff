// The login page: password (POST /auth/token) and, where WeChat provides a login code, wx-login.
// A mini-program's web-view opens /m/login#wxcode=CODE after wx.login(): the code travels in the
// fragment, which no server or log ever sees, and is removed from the address at once.
import { ApiError, PAGE, afterLogin, api, errorText, session, start, t } from "/web/static/js/finedge.js";

const form = document.getElementById("login-form");
const errorBox = document.getElementById("login-error");

function showError(error) {
  let text = errorText(error);
  if (error instanceof ApiError && error.status === 429) {
    text = t("login.too_many", { seconds: error.details.retry_after_s ?? "" });
  } else if (error instanceof ApiError && error.status === 401) {
    text = t("login.refused");
  }
  errorBox.textContent = text;
  errorBox.hidden = false;
}

async function signIn(path, body) {
  errorBox.hidden = true;
  try {
    const data = await api("POST", path, { body });
    session.set(data);
    location.replace(afterLogin(data.user));
  } catch (error) {
    showError(error);
  }
}

start({ public: true }, async () => {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    signIn("/auth/token", {
      username: form.username.value.trim(),
      password: form.password.value,
    }).finally(() => (button.disabled = false));
  });
  const fragment = new URLSearchParams(location.hash.slice(1));
  const code = fragment.get("wxcode");
  if (code) {
    history.replaceState(null, "", location.pathname);
    if (PAGE.wx_login) await signIn("/auth/wx-login", { code });
  }
  const wx = document.getElementById("wx-login");
  if (wx && PAGE.wx_fake) {
    // The demo's stand-in for WeChat: one made-up WeChat user per browser.
    wx.addEventListener("click", () => {
      let openid = localStorage.getItem("finedge.demo_openid");
      if (!openid) {
        openid = "demo" + crypto.randomUUID().replaceAll("-", "").slice(0, 24);
        localStorage.setItem("finedge.demo_openid", openid);
      }
      signIn("/auth/wx-login", { code: `fake:${openid}` });
    });
  } else if (wx) {
    wx.hidden = true; // real WeChat: the mini-program passes the code (#wxcode=...)
  }
  form.username.focus();
});
