// The job page's one inline script: the filter box, zoom and pan of the overlay drawing, and the
// details panel. A constant: it carries no data (the page's data is in the server-rendered
// markup, read through attributes), so no user text can ever close its <script> element. It
// writes only with textContent, hidden and style, never with innerHTML. Without it the page
// still reads: the controls it drives start `hidden` and it shows them.
#pragma once

#include <string_view>

namespace buildtrace::ui {

inline constexpr std::string_view kJobPageScript = R"js(
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  document.querySelectorAll('[data-needs-script]').forEach(function (e) { e.hidden = false; });

  // Filter: hide the list items and the overlay marks whose ID does not contain the text.
  var filter = $('filter'), count = $('filter-count');
  function applyFilter() {
    var text = filter.value.trim().toLowerCase(), ids = new Set();
    document.querySelectorAll('li[data-id], .mark[data-id]').forEach(function (e) {
      var id = e.getAttribute('data-id'), match = id.toLowerCase().indexOf(text) !== -1;
      e.style.display = match ? '' : 'none';
      if (match) ids.add(id);
    });
    count.textContent = text === '' ? '' :
      ids.size + (ids.size === 1 ? ' object matches' : ' objects match');
  }
  if (filter) filter.addEventListener('input', applyFilter);

  // Details of the hovered or focused mark, as text.
  var details = $('object-details');
  function showDetails(ev) {
    var mark = ev.target.closest ? ev.target.closest('.mark') : null;
    if (!mark || !details) return;
    ['id', 'kind', 'before', 'after'].forEach(function (name) {
      var value = mark.getAttribute('data-' + name);
      $('detail-' + name).textContent = value === null || value === '' ? '(none)' : value;
    });
    $('details-hint').hidden = true;
    $('details-list').hidden = false;
  }

  // Zoom and pan: the drawing's viewBox, in its own units.
  var view = $('overlay-view'), svg = view ? view.querySelector('svg') : null;
  if (!svg || !svg.viewBox || !svg.viewBox.baseVal || svg.viewBox.baseVal.width === 0) return;
  view.addEventListener('mouseover', showDetails);
  view.addEventListener('focusin', showDetails);
  var base = svg.viewBox.baseVal, home = { x: base.x, y: base.y, w: base.width, h: base.height };
  var box = { x: home.x, y: home.y, w: home.w, h: home.h };
  function apply() {
    svg.setAttribute('viewBox', [box.x, box.y, box.w, box.h].join(' '));
  }
  function centre() { return { x: box.x + box.w / 2, y: box.y + box.h / 2 }; }
  // Zooms by `factor` (above 1: in) keeping the drawing point `p` where it is on screen.
  function zoom(factor, p) {
    var w = Math.min(home.w * 4, Math.max(home.w / 50, box.w / factor));
    var f = box.w / w;
    box.x = p.x - (p.x - box.x) / f;
    box.y = p.y - (p.y - box.y) / f;
    box.w = w;
    box.h = box.h / f;
    apply();
  }
  function toDrawing(ev) {
    var m = svg.getScreenCTM();
    if (!m) return centre();
    var p = svg.createSVGPoint();
    p.x = ev.clientX;
    p.y = ev.clientY;
    return p.matrixTransform(m.inverse());
  }
  $('zoom-in').addEventListener('click', function () { zoom(1.5, centre()); });
  $('zoom-out').addEventListener('click', function () { zoom(1 / 1.5, centre()); });
  $('zoom-reset').addEventListener('click', function () {
    box = { x: home.x, y: home.y, w: home.w, h: home.h };
    apply();
  });
  svg.addEventListener('wheel', function (ev) {
    ev.preventDefault();
    zoom(ev.deltaY < 0 ? 1.2 : 1 / 1.2, toDrawing(ev));
  }, { passive: false });

  // Drag to pan: keep the drawing point first grabbed under the pointer.
  var grab = null;
  svg.addEventListener('pointerdown', function (ev) {
    if (ev.button !== 0) return;
    grab = toDrawing(ev);
    svg.setPointerCapture(ev.pointerId);
  });
  svg.addEventListener('pointermove', function (ev) {
    if (!grab) return;
    var p = toDrawing(ev);
    box.x += grab.x - p.x;
    box.y += grab.y - p.y;
    apply();
  });
  function release() { grab = null; }
  svg.addEventListener('pointerup', release);
  svg.addEventListener('pointercancel', release);
})();
)js";

// The HTML parser ends a script at the first "</script"; this one must hold none.
static_assert(kJobPageScript.find("</") == std::string_view::npos);

}  // namespace buildtrace::ui
