import { html, render } from "htm/preact";

const root = document.getElementById("root");
root.textContent = "";
render(html`<main><h1>nod</h1></main>`, root);
