// The portal's shell: sign-in state, the hash router (#/projects/{id}/...), and the account menu.
import {whenUnauthorized} from "./api.js";
import {fill, h} from "./dom.js";
import {session} from "./session.js";
import {renderSignIn} from "./pages/signin.js";
import {renderProjects} from "./pages/projects.js";
import {renderProject} from "./pages/project.js";

const main = document.getElementById("main");
const account = document.getElementById("account");

function renderAccount() {
  if (!session.signedIn()) {
    fill(account);
    return;
  }
  fill(account, h("button", {type: "button", onclick: signOut}, "Sign out"));
}

function signOut(message) {
  session.signOut();
  renderAccount();
  renderSignIn(main, {message: typeof message === "string" ? message : "", onSignedIn});
}

function onSignedIn() {
  renderAccount();
  if (location.hash && location.hash !== "#/") route();
  else location.hash = "#/";
}

/** #/ -> projects; #/projects/{pid}[/{tab}[/{iterationId}]] -> a project's page. */
function route() {
  document.querySelectorAll("dialog").forEach((d) => d.close());
  renderAccount();
  if (!session.signedIn()) {
    renderSignIn(main, {onSignedIn});
    return;
  }
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "projects" && parts[1]) {
    renderProject(main, {projectId: parts[1], tab: parts[2] || "images", iterationId: parts[3]});
  } else {
    renderProjects(main);
  }
}

// The skip link moves focus without touching the hash, which is the router's.
document.querySelector(".skip").addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});
whenUnauthorized(() => signOut("The service refused the training key (401). Sign in again."));
window.addEventListener("hashchange", route);
route();
