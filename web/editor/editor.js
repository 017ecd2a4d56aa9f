// pi-crm's email editor: TipTap (on ProseMirror) over the template form's
// textareas. Each <div class="rich-editor" data-editor="ID"> edits the
// textarea #ID, which stays the form field: without this script the
// textarea edits the HTML itself, and the server sanitizes either way.
//
// Placeholders are atomic chips ({{first_name | "there"}} as one node), so
// no edit can split or mangle one; typing "{{" offers the names the page
// lists in data-placeholders. Links may hold a placeholder
// ({{unsubscribe_url}}); a button is a link styled as one; images are
// uploaded to the workspace (data-upload) or fetched from a URL by the
// server, and come back as the appliance's own URL.
//
// Built with `npm run editor` into web/static/editor.js (committed, like
// htmx: go build needs no npm).
import { Editor, Node, mergeAttributes } from "@tiptap/core";
import StarterKit from "@tiptap/starter-kit";
import Image from "@tiptap/extension-image";
import Link from "@tiptap/extension-link";
import Mention from "@tiptap/extension-mention";

const PH = /\{\{\s*([a-z_][a-z0-9_.]*)\s*(?:\|\s*"([^"]*)"\s*)?\}\}/g;

function source(name, fallback) {
  return fallback ? `{{${name} | "${fallback}"}}` : `{{${name}}}`;
}

// Placeholder is the chip: stored as a span whose text is the placeholder
// itself, so the server (which reads only the text) fills it.
const Placeholder = Node.create({
  name: "placeholder",
  group: "inline",
  inline: true,
  atom: true,
  selectable: true,
  addAttributes() {
    return {
      name: { default: "", parseHTML: (el) => el.getAttribute("data-placeholder") },
      fallback: { default: "", parseHTML: (el) => el.getAttribute("data-fallback") || "" },
    };
  },
  parseHTML() {
    return [{ tag: "span[data-placeholder]" }];
  },
  renderHTML({ node, HTMLAttributes }) {
    const attrs = { "data-placeholder": node.attrs.name, class: "ph-chip" };
    if (node.attrs.fallback) attrs["data-fallback"] = node.attrs.fallback;
    return ["span", mergeAttributes(attrs, HTMLAttributes.style ? { style: HTMLAttributes.style } : {}), source(node.attrs.name, node.attrs.fallback)];
  },
  renderText({ node }) {
    return source(node.attrs.name, node.attrs.fallback);
  },
});

// chips turns the placeholders written as text in stored HTML into chip
// spans before the editor parses it; those inside attributes (href) stay.
function chips(html) {
  const doc = new DOMParser().parseFromString(`<body>${html}</body>`, "text/html");
  const walker = doc.createTreeWalker(doc.body, NodeFilter.SHOW_TEXT);
  const texts = [];
  while (walker.nextNode()) {
    if (!walker.currentNode.parentElement.closest("span[data-placeholder]")) texts.push(walker.currentNode);
  }
  for (const t of texts) {
    const s = t.nodeValue;
    PH.lastIndex = 0;
    if (!PH.test(s)) continue;
    PH.lastIndex = 0;
    const frag = doc.createDocumentFragment();
    let at = 0;
    for (const m of s.matchAll(PH)) {
      frag.append(s.slice(at, m.index));
      const span = doc.createElement("span");
      span.setAttribute("data-placeholder", m[1]);
      if (m[2]) span.setAttribute("data-fallback", m[2]);
      span.textContent = m[0];
      frag.append(span);
      at = m.index + m[0].length;
    }
    frag.append(s.slice(at));
    t.replaceWith(frag);
  }
  return doc.body.innerHTML;
}

// ButtonLink keeps a link's inline style, which is what makes it a button.
const ButtonLink = Link.extend({
  addAttributes() {
    return { ...this.parent?.(), style: { default: null, parseHTML: (el) => el.getAttribute("style") } };
  },
});
const BUTTON_STYLE = "display:inline-block;padding:12px 20px;background-color:#4338ca;color:#ffffff;border-radius:6px;text-decoration:none;font-weight:bold";

// suggest is the "{{" menu: a plain list under the caret.
function suggest(names) {
  return {
    char: "{{",
    allowSpaces: false,
    items: ({ query }) => names.filter((n) => n.includes(query.toLowerCase())).slice(0, 8),
    command: ({ editor, range, props }) => {
      editor.chain().focus().insertContentAt(range, [{ type: "placeholder", attrs: { name: props.id, fallback: "" } }, { type: "text", text: " " }]).run();
    },
    render: () => {
      let menu, items = [], active = 0, pick;
      const draw = () => {
        menu.replaceChildren(...items.map((n, i) => {
          const b = document.createElement("button");
          b.type = "button";
          b.textContent = n;
          b.className = i === active ? "ph-menu-item ph-menu-active" : "ph-menu-item";
          b.addEventListener("mousedown", (e) => { e.preventDefault(); pick(n); });
          return b;
        }));
      };
      const place = (rect) => {
        if (!rect) return;
        menu.style.left = `${Math.min(rect.left + window.scrollX, window.innerWidth - 200)}px`;
        menu.style.top = `${rect.bottom + window.scrollY + 4}px`;
      };
      return {
        onStart: (p) => {
          menu = document.createElement("div");
          menu.className = "ph-menu";
          menu.setAttribute("role", "listbox");
          document.body.append(menu);
          items = p.items; active = 0; pick = (n) => p.command({ id: n });
          draw(); place(p.clientRect && p.clientRect());
        },
        onUpdate: (p) => { items = p.items; active = 0; pick = (n) => p.command({ id: n }); draw(); place(p.clientRect && p.clientRect()); },
        onKeyDown: ({ event }) => {
          if (!items.length) return false;
          if (event.key === "ArrowDown") { active = (active + 1) % items.length; draw(); return true; }
          if (event.key === "ArrowUp") { active = (active + items.length - 1) % items.length; draw(); return true; }
          if (event.key === "Enter" || event.key === "Tab") { pick(items[active]); return true; }
          if (event.key === "Escape") { menu.remove(); return true; }
          return false;
        },
        onExit: () => { if (menu) menu.remove(); },
      };
    },
  };
}

function toolbar(editor, el, names) {
  const bar = document.createElement("div");
  bar.className = "rich-toolbar";
  bar.setAttribute("role", "toolbar");
  const add = (label, title, run, active) => {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.title = title;
    b.setAttribute("aria-label", title);
    b.className = "rich-tool";
    b.addEventListener("click", () => run());
    if (active) editor.on("transaction", () => b.classList.toggle("rich-tool-on", active()));
    bar.append(b);
    return b;
  };
  add("B", "Bold", () => editor.chain().focus().toggleBold().run(), () => editor.isActive("bold"));
  add("I", "Italic", () => editor.chain().focus().toggleItalic().run(), () => editor.isActive("italic"));
  add("H", "Heading", () => editor.chain().focus().toggleHeading({ level: 2 }).run(), () => editor.isActive("heading"));
  add("•", "Bulleted list", () => editor.chain().focus().toggleBulletList().run(), () => editor.isActive("bulletList"));
  add("Link", "Link", () => {
    const url = window.prompt("Link to (https://…, mailto:…, or {{unsubscribe_url}})", editor.getAttributes("link").href || "https://");
    if (url === null) return;
    if (url === "") editor.chain().focus().unsetLink().run();
    else editor.chain().focus().extendMarkRange("link").setLink({ href: url }).run();
  }, () => editor.isActive("link"));
  add("Button", "Button", () => {
    const url = window.prompt("The button links to", "https://");
    if (!url) return;
    const text = window.prompt("The button says", "Get my rate") || "Learn more";
    editor.chain().focus().insertContent({ type: "paragraph", content: [{ type: "text", text, marks: [{ type: "link", attrs: { href: url, style: BUTTON_STYLE } }] }] }).run();
  });
  if (el.dataset.upload) {
    const file = document.createElement("input");
    file.type = "file";
    file.accept = "image/png,image/jpeg,image/gif,image/webp";
    file.hidden = true;
    file.addEventListener("change", () => upload(editor, el, file.files[0], null));
    bar.append(file);
    add("Image", "Add an image", () => file.click());
    const cap = caption(editor, el);
    add("Caption", "Draw a caption on the selected image", () => {
      cap.dataset.src = imageSrc(editor);
      // Opens (never closes: a second tap must not hide it); drawing closes it.
      cap.hidden = false;
      cap.querySelector("input").focus();
    }, () => editor.isActive("image"));
    bar.caption = cap;
    add("Image URL", "Add an image from a web address", () => {
      const url = window.prompt("The image's address (https://…)");
      if (url) upload(editor, el, null, url);
    });
  }
  const sel = document.createElement("select");
  sel.className = "rich-tool";
  sel.setAttribute("aria-label", "Insert a placeholder");
  sel.append(new Option("{{ }} Insert…", ""), ...names.map((n) => new Option(n, n)));
  sel.addEventListener("change", () => {
    if (!sel.value) return;
    editor.chain().focus().insertContent([{ type: "placeholder", attrs: { name: sel.value, fallback: "" } }, { type: "text", text: " " }]).run();
    sel.value = "";
  });
  bar.append(sel);
  return bar;
}

// imageSrc is the selected image's src, else the last image's in the
// message, else "".
function imageSrc(editor) {
  let src = editor.getAttributes("image").src;
  if (!src) editor.state.doc.descendants((n) => { if (n.type.name === "image") src = n.attrs.src; });
  return src || "";
}

// caption is the panel that draws text onto the selected image on the
// server (Outlook drops CSS backgrounds, so the text must be pixels) and
// swaps in the captioned copy.
function caption(editor, el) {
  const panel = document.createElement("div");
  panel.className = "rich-caption";
  panel.hidden = true;
  const text = document.createElement("input");
  text.className = "input";
  text.placeholder = "Caption text, e.g. Open house Sunday 1–4";
  text.setAttribute("aria-label", "Caption text");
  text.maxLength = 200;
  const pos = document.createElement("select");
  pos.className = "input";
  pos.setAttribute("aria-label", "Where the caption goes");
  pos.append(new Option("Bottom", "bottom"), new Option("Middle", "center"), new Option("Top", "top"));
  const go = document.createElement("button");
  go.type = "button";
  go.className = "btn-secondary";
  go.textContent = "Draw caption";
  go.addEventListener("click", async () => {
    // The image chosen when the panel opened, else the selected one, else
    // the last in the message.
    const src = panel.dataset.src || imageSrc(editor);
    const status = el.querySelector(".rich-status");
    if (!/^\/w\/[^/]+\/images\/[^/]+$/.test(src)) { status.textContent = "Select an image of this workspace first (click it)."; return; }
    const form = new URLSearchParams({ text: text.value, position: pos.value, size: "7", color: "#ffffff", band: "1", band_color: "#000000" });
    status.textContent = "Drawing the caption…";
    const resp = await fetch(src + "/caption", { method: "POST", body: form, headers: { Accept: "application/json" }, credentials: "same-origin" });
    const body = await resp.json().catch(() => ({ error: "The caption was not drawn (" + resp.status + ")." }));
    if (!resp.ok) { status.textContent = body.error; return; }
    // Swap the captioned copy in wherever the image is.
    const tr = editor.state.tr;
    editor.state.doc.descendants((node, pos) => {
      if (node.type.name === "image" && node.attrs.src === src) tr.setNodeMarkup(pos, undefined, { ...node.attrs, src: body.url, alt: body.alt });
    });
    editor.view.dispatch(tr);
    status.textContent = "";
    panel.hidden = true;
  });
  panel.append(text, pos, go);
  return panel;
}

// upload sends an image file, or a URL for the server to fetch, to the
// workspace's image endpoint and inserts what comes back.
async function upload(editor, el, file, url) {
  const form = new FormData();
  if (file) form.append("image", file);
  if (url) form.append("url", url);
  const status = el.querySelector(".rich-status");
  status.textContent = "Adding the image…";
  try {
    const resp = await fetch(el.dataset.upload, { method: "POST", body: form, headers: { Accept: "application/json" }, credentials: "same-origin" });
    const body = await resp.json().catch(() => ({ error: resp.status === 413 ? "The image is too large." : "The image was not added (" + resp.status + ")." }));
    if (!resp.ok) { status.textContent = body.error || "The image was not added."; return; }
    editor.chain().focus().setImage({ src: body.url, alt: body.alt || "" }).run();
    status.textContent = "";
  } catch (e) {
    status.textContent = "The image was not added: " + e;
  }
}

function mount(el) {
  const ta = document.getElementById(el.dataset.editor);
  if (!ta) return;
  const names = (el.dataset.placeholders || "").split(",").filter(Boolean);
  const area = document.createElement("div");
  area.className = "rich-area";
  const status = document.createElement("p");
  status.className = "rich-status";
  status.setAttribute("role", "status");
  const editor = new Editor({
    element: area,
    injectCSS: false, // the CSP allows no inline style sheet; app.css has the rules
    extensions: [
      StarterKit.configure({ link: false }),
      ButtonLink.configure({
        openOnClick: false,
        autolink: true,
        protocols: ["mailto", "tel"],
        isAllowedUri: (u, ctx) => /^\{\{\s*[a-z_.]+\s*\}\}/.test(u) || ctx.defaultValidate(u),
        HTMLAttributes: { rel: null, target: null, class: null },
      }),
      Image.configure({ inline: false }),
      Placeholder,
      Mention.extend({ name: "placeholderSuggest" }).configure({ suggestion: suggest(names) }),
    ],
    content: chips(ta.value),
    onUpdate: ({ editor }) => { ta.value = editor.getHTML(); },
  });
  const bar = toolbar(editor, el, names);
  el.append(bar, ...(bar.caption ? [bar.caption] : []), area, status);
  ta.hidden = true;
  el.editor = editor;
}

document.querySelectorAll(".rich-editor[data-editor]").forEach(mount);
