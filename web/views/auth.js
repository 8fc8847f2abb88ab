// First-run setup (creates the owner) and sign in.
import { html } from "htm/preact";
import { useState } from "preact/hooks";
import { post } from "../api.js";
import { ErrorText, useAction } from "./common.js";

export function AuthForm({ mode, onDone }) {
  const setup = mode === "setup";
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const { run, busy, error } = useAction(async () => {
    const res = await post(setup ? "/api/auth/setup" : "/api/auth/login", { username, password });
    onDone(res.user);
  });
  const submit = (e) => {
    e.preventDefault();
    run();
  };
  return html`
    <main class="auth">
      <h1><span class="brand">nod</span></h1>
      <form class="card" onSubmit=${submit}>
        <h2>${setup ? "Create the owner account" : "Sign in"}</h2>
        ${setup && html`<p class="muted">This is a new nod server. The account you make now owns it.</p>`}
        <label>Username
          <input name="username" autocomplete="username" required value=${username} onInput=${(e) => setUsername(e.currentTarget.value)} />
        </label>
        <label>Password${setup ? html` <span class="muted small">(at least 8 characters)</span>` : ""}
          <input name="password" type="password" autocomplete=${setup ? "new-password" : "current-password"} required
            minlength=${setup ? 8 : undefined} value=${password} onInput=${(e) => setPassword(e.currentTarget.value)} />
        </label>
        <${ErrorText} error=${error} />
        <button class="primary" disabled=${busy}>${setup ? "Create account" : "Sign in"}</button>
      </form>
    </main>
  `;
}
