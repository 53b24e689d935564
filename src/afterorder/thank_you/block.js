/* afterorder thank-you block: <script async src="https://AFTERORDER/w/STORE.js" data-order="TOKEN"></script>
   Renders the store's picks, the LINE and newsletter opt-ins and a one-question survey into a shadow root
   after the script tag (or into the element with data-afterorder-block).  Talks only to its own origin;
   builds its elements one by one and sets their text (no HTML strings, no inline handlers). */
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me || !me.src) { return; }
  var src = new URL(me.src);
  var found = /^\/w\/([^\/]+)\.js$/.exec(src.pathname);
  var token = me.getAttribute("data-order") || "";
  if (!found || !/^[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+$/.test(token)) { return; }
  var api = src.origin + "/w/" + found[1] + "/" + token;
  var lang = document.documentElement.getAttribute("lang") || "";
  var CSS = ":host{all:initial;display:block;font:15px/1.5 system-ui,sans-serif;color:#222}" +
    ".ao{border:1px solid #ddd;border-radius:10px;padding:16px;margin:16px 0;max-width:640px;background:#fff}" +
    "h2{font-size:18px;margin:0 0 12px}h3{font-size:15px;margin:16px 0 8px}p{margin:6px 0}" +
    ".picks{display:grid;grid-template-columns:repeat(auto-fill,minmax(120px,1fr));gap:10px;list-style:none;padding:0;margin:0}" +
    ".picks a{color:inherit;text-decoration:none}.picks img{width:100%;aspect-ratio:1;object-fit:cover;border-radius:6px;background:#f3f3f3}" +
    ".price{color:#555;font-size:13px}" +
    "button,.btn{font:inherit;border:0;border-radius:6px;padding:7px 14px;cursor:pointer;background:var(--ao-color,#1f6feb);" +
    "color:var(--ao-text,#fff);text-decoration:none;display:inline-block;margin:4px 6px 4px 0}" +
    ".line,.newsletter{margin-top:14px}.choices button{background:#f1f1f1;color:#222}button:disabled{opacity:.6;cursor:default}.note{color:#2f6b4f}";

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text) { node.textContent = text; }
    return node;
  }

  function safeUrl(url) {
    try { var u = new URL(url); return (u.protocol === "https:" || u.protocol === "http:") ? u.href : null; }
    catch (e) { return null; }
  }

  function post(path, body) {
    return fetch(api + "/" + path, {method: "POST", mode: "cors", credentials: "omit",
      headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)})
      .then(function (r) { return r.json().then(function (data) { return {ok: r.ok, data: data}; }); });
  }

  function picks(box, data) {
    if (!data.picks.length) { return; }
    box.appendChild(el("h3", "", data.text.picks));
    var list = el("ul", "picks");
    data.picks.forEach(function (p) {
      var item = el("li", "pick");
      var link = el(safeUrl(p.url) ? "a" : "span");
      if (link.tagName === "A") { link.href = safeUrl(p.url); link.target = "_top"; }
      var image = safeUrl(p.image_url);
      if (image) {
        var img = el("img");
        img.src = image; img.alt = ""; img.loading = "lazy"; img.referrerPolicy = "no-referrer";
        link.appendChild(img);
      }
      link.appendChild(el("div", "pick-title", p.title));
      if (p.price) { link.appendChild(el("div", "price", p.price)); }
      item.appendChild(link);
      list.appendChild(item);
    });
    box.appendChild(list);
  }

  function line(box, data) {
    var url = data.line_url && safeUrl(data.line_url);
    if (!url) { return; }
    var part = el("div", "line");
    part.appendChild(el("p", "", data.text.line));
    var a = el("a", "btn", data.text.line_button);
    a.href = url; a.target = "_blank"; a.rel = "noopener noreferrer";
    part.appendChild(a);
    box.appendChild(part);
  }

  function newsletter(box, data) {
    if (!data.newsletter) { return; }
    var part = el("div", "newsletter");
    var status = data.newsletter.status;
    var note = el("p", "note");
    function show(state) { note.textContent = state === "pending" ? data.text.newsletter_pending : data.text.newsletter_done; }
    if (status === "granted" || status === "pending") {
      show(status);
      part.appendChild(note);
    } else {
      part.appendChild(el("p", "", data.text.newsletter_wording));
      var button = el("button", "subscribe", data.text.newsletter_button);
      button.type = "button";
      button.addEventListener("click", function () {
        button.disabled = true;
        post("newsletter", {locale: data.locale}).then(function (r) {
          if (!r.ok) { throw new Error(r.data.error); }
          button.remove();
          show(r.data.status);
        }).catch(function () { button.disabled = false; note.textContent = data.text.failed; });
      });
      part.appendChild(button);
      part.appendChild(note);
    }
    box.appendChild(part);
  }

  function survey(box, data) {
    var s = data.survey;
    if (!s) { return; }
    var part = el("div", "survey");
    part.appendChild(el("h3", "", s.question));
    var note = el("p", "note");
    if (s.answer) {
      note.textContent = data.text.survey_done;
    } else {
      var choices = el("div", "choices");
      s.choices.forEach(function (c) {
        var b = el("button", "", c.label);
        b.type = "button";
        b.setAttribute("data-answer", c.value);
        b.addEventListener("click", function () {
          Array.prototype.forEach.call(choices.children, function (x) { x.disabled = true; });
          post("survey", {answer: c.value}).then(function (r) {
            if (!r.ok && r.data.error !== "already_answered") { throw new Error(r.data.error); }
            choices.remove();
            note.textContent = data.text.survey_done;
          }).catch(function () {
            Array.prototype.forEach.call(choices.children, function (x) { x.disabled = false; });
            note.textContent = data.text.failed;
          });
        });
        choices.appendChild(b);
      });
      part.appendChild(choices);
    }
    part.appendChild(note);
    box.appendChild(part);
  }

  function render(data) {
    var host = document.querySelector("[data-afterorder-block]");
    if (!host) {
      host = el("div");
      host.setAttribute("data-afterorder-block", "");
      me.parentNode.insertBefore(host, me.nextSibling);
    }
    host.style.setProperty("--ao-color", data.color);
    host.style.setProperty("--ao-text", data.text_color);
    var root = host.attachShadow({mode: "open"});
    if (root.adoptedStyleSheets !== undefined && window.CSSStyleSheet) {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } else {
      root.appendChild(el("style", "", CSS));
    }
    var box = el("section", "ao");
    box.lang = data.locale;
    box.appendChild(el("h2", "", data.text.title));
    picks(box, data);
    line(box, data);
    newsletter(box, data);
    survey(box, data);
    root.appendChild(box);
  }

  fetch(api + ".json?lang=" + encodeURIComponent(lang), {mode: "cors", credentials: "omit"})
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (data) { if (data) { render(data); } })
    .catch(function () { /* no block: the host page goes on as it was */ });
})();
