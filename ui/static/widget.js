/* Support chat widget: adds a chat button to a page and opens the chat in a frame when clicked.
 *
 *   <script src="https://support.example.com/widget.js" data-lang="de" defer></script>
 *
 * Attributes: data-chat-url (where the chat is served; default: where this script came from),
 * data-lang ("de" or "en"; default: the browser's language), data-label (the button's text).
 * Nothing is stored in the visitor's browser and nothing is requested from the chat server before the
 * visitor clicks the button. Loads no other file: no fonts, no images, no third parties.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) { return; }
  var chatUrl = script.getAttribute("data-chat-url") || new URL(script.src).origin + "/";
  var lang = (script.getAttribute("data-lang") || navigator.language || "en").slice(0, 2).toLowerCase();
  if (lang !== "de") { lang = "en"; }
  var texts = {
    de: { open: "Hilfe-Chat", close: "Chat schließen", title: "Hilfe-Chat (KI-Assistent)" },
    en: { open: "Help chat", close: "Close chat", title: "Help chat (AI assistant)" }
  }[lang];
  var label = script.getAttribute("data-label") || texts.open;
  var panel = null;

  var button = document.createElement("button");
  button.type = "button";
  button.id = "support-chat-button";
  button.textContent = label;
  button.setAttribute("aria-expanded", "false");
  button.style.cssText = "position:fixed;right:20px;bottom:20px;z-index:2147483000;padding:12px 18px;" +
    "border:0;border-radius:24px;background:#1f4f8b;color:#fff;font:600 15px/1.2 system-ui,sans-serif;" +
    "box-shadow:0 2px 8px rgba(0,0,0,.3);cursor:pointer";

  function openPanel() {
    panel = document.createElement("div");
    panel.id = "support-chat-panel";
    panel.style.cssText = "position:fixed;right:20px;bottom:76px;z-index:2147483000;" +
      "width:min(420px,calc(100vw - 40px));height:min(640px,calc(100vh - 110px));background:#fff;" +
      "border-radius:12px;box-shadow:0 4px 24px rgba(0,0,0,.35);overflow:hidden";
    var frame = document.createElement("iframe");
    var url = new URL(chatUrl);
    url.searchParams.set("lang", lang);
    url.searchParams.set("embed", "1");
    frame.src = url.toString();
    frame.title = texts.title;
    frame.id = "support-chat-frame";
    frame.referrerPolicy = "no-referrer";
    frame.style.cssText = "width:100%;height:100%;border:0";
    panel.appendChild(frame);
    document.body.appendChild(panel);
  }

  button.addEventListener("click", function () {
    if (!panel) { openPanel(); }
    else { panel.hidden = !panel.hidden; }
    var open = !panel.hidden;
    button.textContent = open ? texts.close : label;
    button.setAttribute("aria-expanded", open ? "true" : "false");
  });

  if (document.body) { document.body.appendChild(button); }
  else { document.addEventListener("DOMContentLoaded", function () { document.body.appendChild(button); }); }
})();
