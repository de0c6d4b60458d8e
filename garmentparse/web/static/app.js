// garmentparse review app: keyboard review and product registration. Plain JS, no build step.
(function () {
  "use strict";
  function csrf() { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRF-Token"]; }

  // ---------------------------------------------------------------- review keys (CVAT-style)
  var selectedHead = null;
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("#panel tr.head-row")); }
  function select(row) {
    rows().forEach(function (r) { r.classList.toggle("selected", r === row); });
    if (row) { selectedHead = row.dataset.head; }
  }
  function initPanel() {
    var all = rows();
    if (!all.length) { return; }
    var keep = all.filter(function (r) { return r.dataset.head === selectedHead; })[0];
    var firstOpen = all.filter(function (r) { return r.dataset.state === "predicted"; })[0];
    select(keep || firstOpen || all[0]);
  }
  function move(step) {
    var all = rows(), i = all.findIndex(function (r) { return r.classList.contains("selected"); });
    if (all.length) { select(all[(i + step + all.length) % all.length]); }
  }
  document.addEventListener("keydown", function (e) {
    if (!document.getElementById("panel") || e.ctrlKey || e.metaKey || e.altKey) { return; }
    var tag = (e.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select") {
      if (e.key === "Escape") { e.target.blur(); }
      return;
    }
    var row = document.querySelector("#panel tr.head-row.selected"), btn = null;
    if (e.key === "ArrowDown" || e.key === "j") { move(1); e.preventDefault(); return; }
    if (e.key === "ArrowUp" || e.key === "k") { move(-1); e.preventDefault(); return; }
    if (/^[1-9]$/.test(e.key) && row) { btn = row.querySelector('[data-alt="' + e.key + '"]'); }
    else if (e.key === "x" && row) { btn = row.querySelector("[data-reject-head]"); }
    else if (e.key === "e" && row) { var s = row.querySelector("[data-other]"); if (s) { s.focus(); e.preventDefault(); } return; }
    else if (e.key === "a" || e.key === "r" || e.key === "s") { btn = document.querySelector('#panel [data-key="' + e.key + '"]'); }
    if (btn) { e.preventDefault(); btn.click(); }
  });
  document.addEventListener("change", function (e) {  // picking an "other value" sets it at once
    if (e.target.matches && e.target.matches("#panel select[data-other]:not([multiple])") && e.target.value) {
      e.target.form.querySelector("[data-set]").click();
    }
  });
  document.addEventListener("click", function (e) {
    var row = e.target.closest && e.target.closest("#panel tr.head-row");
    if (row) { select(row); }
  });
  document.addEventListener("htmx:afterSettle", initPanel);
  document.addEventListener("DOMContentLoaded", initPanel);

  // ---------------------------------------------------------------- register a product
  function setupRegister() {
    var root = document.getElementById("register");
    if (!root) { return; }
    var zone = document.getElementById("dropzone"), input = document.getElementById("files");
    var list = document.getElementById("uploads"), status = document.getElementById("progress");
    var bar = document.getElementById("progress-bar"), proposal = document.getElementById("proposal");
    var maxPhotos = parseInt(root.dataset.maxPhotos, 10), photoIds = [];

    function item(file) {
      var li = document.createElement("li"), img = document.createElement("img"), p = document.createElement("p");
      img.src = URL.createObjectURL(file); img.alt = file.name;
      p.textContent = file.name + " …";
      li.appendChild(img); li.appendChild(p); list.appendChild(li);
      return p;
    }
    function post(url, body) {
      return fetch(url, { method: "POST", body: body, headers: { "X-CSRF-Token": csrf() }, credentials: "same-origin" });
    }
    async function run(files) {
      files = Array.prototype.slice.call(files, 0, maxPhotos);
      bar.hidden = false; bar.max = files.length; bar.value = 0;
      for (var i = 0; i < files.length; i++) {
        status.textContent = status.dataset.label + " " + (i + 1) + " / " + files.length + " …";
        var line = item(files[i]), form = new FormData();
        form.append("photo", files[i]);
        try {
          var res = await post("/products/photos", form), data = await res.json();
          while (res.status === 503 && res.headers.get("Retry-After")) {  // the tagging queue is full: wait, resend
            line.textContent = files[i].name + ": " + data.error + " (" + status.dataset.resend + ")";
            await new Promise(function (done) { setTimeout(done, 1000 * parseInt(res.headers.get("Retry-After"), 10)); });
            res = await post("/products/photos", form); data = await res.json();
          }
          if (res.ok) { photoIds.push(data.photo_id); line.textContent = files[i].name + " ✓ " + status.dataset.garments + ": " + data.garments; }
          else { line.parentNode.classList.add("failed"); line.textContent = files[i].name + ": " + data.error; }
        } catch (err) { line.parentNode.classList.add("failed"); line.textContent = files[i].name + ": " + err; }
        bar.value = i + 1;
      }
      status.textContent = status.dataset.label + " " + files.length + " / " + files.length + " ✓";
      if (!photoIds.length) { return; }
      var body = new FormData();
      body.append("photo_ids", photoIds.join(","));
      var res2 = await post("/products/proposal", body);
      proposal.innerHTML = await res2.text();  // server-rendered, autoescaped
    }
    input.addEventListener("change", function () { run(input.files); });
    ["dragenter", "dragover"].forEach(function (ev) {
      zone.addEventListener(ev, function (e) { e.preventDefault(); zone.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (ev) {
      zone.addEventListener(ev, function (e) { e.preventDefault(); zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (e) { run(e.dataTransfer.files); });
  }
  document.addEventListener("DOMContentLoaded", setupRegister);
})();
