/* Keyboard shortcuts and synchronized playback for the review pages. No framework, no build. */
"use strict";
var Earwitness = (function () {
  function typing(e) {
    var t = e.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }
  function start(el) {
    /* play(), ignoring the AbortError a quick pause() after it raises; other failures are shown */
    var pr = el.play();
    if (pr && pr.catch) {
      pr.catch(function (err) { if (err.name !== "AbortError") { console.warn("cannot play", el.id, err); } });
    }
  }
  function go(id) { var a = document.getElementById(id); if (a) { window.location.href = a.href; } }

  function queueKeys() {
    var rows = Array.prototype.slice.call(document.querySelectorAll("#queue tbody tr[data-href]"));
    var at = -1;
    function select(i) {
      if (!rows.length) { return; }
      at = Math.max(0, Math.min(rows.length - 1, i));
      rows.forEach(function (r, k) { r.classList.toggle("selected", k === at); });
      rows[at].scrollIntoView({block: "nearest"});
    }
    rows.forEach(function (r, k) {
      r.addEventListener("click", function (e) {
        var tag = e.target.tagName;
        if (tag !== "A" && tag !== "INPUT" && tag !== "LABEL") { window.location.href = r.dataset.href; }
      });
    });
    var all = document.getElementById("select-page");
    if (all) {
      all.addEventListener("change", function () {
        document.querySelectorAll("#queue input.pick").forEach(function (c) { c.checked = all.checked; });
      });
    }
    document.addEventListener("keydown", function (e) {
      if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) { return; }
      if (e.key === "j") { select(at + 1); }
      else if (e.key === "k") { select(at - 1); }
      else if (e.key === "Enter" && at >= 0) { window.location.href = rows[at].dataset.href; }
      else if (e.key === "x" && at >= 0) { var c = rows[at].querySelector("input.pick"); if (c) { c.checked = !c.checked; } }
      else { return; }
      e.preventDefault();
    });
  }

  function reviewKeys() {
    var players = ["audio-clip", "audio-ref-transformed", "audio-ref"].map(function (id) { return document.getElementById(id); });
    var current = 0, graph = null;
    function mark() {
      document.querySelectorAll(".player").forEach(function (p, k) { p.classList.toggle("selected", k === current); });
    }
    function pan(both) {
      if (!graph) { return; }
      graph.left.pan.value = both ? -1 : 0;
      graph.right.pan.value = both ? 1 : 0;
    }
    function pauseAll() { players.forEach(function (p) { p.pause(); }); }
    function playOne(i, restart) {
      var p = players[i];
      if (!p) { return; }
      if (!p.paused && !restart) { p.pause(); return; }
      pauseAll(); pan(false);
      if (restart) { p.currentTime = 0; }
      start(p);
    }
    function playBoth() {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!graph && Ctx) {
        var ctx = new Ctx();
        var mk = function (el, v) {
          var node = ctx.createStereoPanner(); node.pan.value = v;
          ctx.createMediaElementSource(el).connect(node).connect(ctx.destination); return node;
        };
        graph = {ctx: ctx, left: mk(players[0], -1), right: mk(players[1], 1)};
      }
      if (graph) { graph.ctx.resume(); }
      pauseAll(); pan(true);
      players[0].currentTime = 0; players[1].currentTime = 0;
      start(players[0]); start(players[1]);
    }
    players.forEach(function (p, k) {
      p.addEventListener("play", function () { current = k; mark(); });
    });
    /* the playhead over the alignment picture follows player 1 or 2 (both share the picture's time axis) */
    var wrap = document.getElementById("alignment-wrap"), head = document.getElementById("playhead");
    function follow() {
      var p = [players[0], players[1]].filter(function (a) { return a && !a.paused; })[0] || players[current];
      if (!wrap || !head || !p || current > 1 && p === players[current]) { return; }
      var img = document.getElementById("alignment"), d = wrap.dataset;
      var scale = img.clientWidth / Number(d.width);
      var x = (Number(d.left) + Math.min(p.currentTime, Number(d.duration)) / Number(d.duration) * Number(d.plotW)) * scale;
      head.style.left = x.toFixed(1) + "px";
      head.style.height = img.clientHeight + "px";
      head.hidden = false;
      head.dataset.t = p.currentTime.toFixed(2);
    }
    [players[0], players[1]].forEach(function (p) {
      if (p) { ["timeupdate", "seeked", "play"].forEach(function (ev) { p.addEventListener(ev, follow); }); }
    });
    (function tick() { if (players.some(function (p) { return p && !p.paused; })) { follow(); } window.requestAnimationFrame(tick); })();
    var both = document.getElementById("play-both");
    if (both) { both.addEventListener("click", playBoth); }
    mark();
    document.addEventListener("keydown", function (e) {
      if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) { return; }
      var p = players[current];
      switch (e.key) {
        case " ": playOne(current, false); break;
        case "1": case "2": case "3": current = Number(e.key) - 1; mark(); playOne(current, true); break;
        case "b": playBoth(); break;
        case "ArrowLeft": p.currentTime = Math.max(0, p.currentTime - 2); break;
        case "ArrowRight": p.currentTime = p.currentTime + 2; break;
        case "j": go("next"); break;
        case "k": go("prev"); break;
        case "c": var cf = document.getElementById("confirm-form"); if (cf) { cf.requestSubmit(); } break;
        case "r": var rr = document.getElementById("reject-code"); if (rr) { rr.focus(); } break;
        case "u": var uf = document.getElementById("undo-form"); if (uf) { uf.requestSubmit(); } break;
        default: return;
      }
      e.preventDefault();
    });
  }
  var pages = {queue: queueKeys, review: reviewKeys};
  document.addEventListener("DOMContentLoaded", function () {
    var init = pages[document.body.dataset.page];
    if (init) { init(); }
  });
  return pages;
})();
