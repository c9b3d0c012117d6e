/* forensic serve: draw a box on the map (drag) to keep the places in it, on the map and on
   the timeline. The map's <svg> says its view (data-view: west south east north, degrees) and
   the frame it is drawn in (data-frame: x0 y0 x1 y1, pixels); the box goes to the form's
   "box" field (south,west,north,east) and the form is sent: the server does the filtering. */
(function () {
  "use strict";
  var svg = document.querySelector("#map svg[data-view]");
  var form = document.querySelector("form.filters");
  var field = document.getElementById("box");
  if (!svg || !form || !field) { return; }
  var view = svg.getAttribute("data-view").split(" ").map(Number);
  var frame = svg.getAttribute("data-frame").split(" ").map(Number);
  var NS = "http://www.w3.org/2000/svg";
  var start = null, rect = null;

  function point(event) {            /* the event's place in the SVG's own pixels */
    var p = svg.createSVGPoint();
    p.x = event.clientX;
    p.y = event.clientY;
    return p.matrixTransform(svg.getScreenCTM().inverse());
  }
  function clamp(v, lo, hi) { return Math.min(hi, Math.max(lo, v)); }
  function lon(x) {
    var v = view[0] + (clamp(x, frame[0], frame[2]) - frame[0]) / (frame[2] - frame[0]) * (view[2] - view[0]);
    return ((v + 540) % 360) - 180;  /* the view may run past 180 */
  }
  function lat(y) {
    var v = view[3] - (clamp(y, frame[1], frame[3]) - frame[1]) / (frame[3] - frame[1]) * (view[3] - view[1]);
    return clamp(v, -90, 90);
  }
  function fixed(v) { return v.toFixed(6).replace(/\.?0+$/, ""); }

  svg.addEventListener("mousedown", function (event) {
    event.preventDefault();
    start = point(event);
    rect = document.createElementNS(NS, "rect");
    rect.setAttribute("class", "selection");
    rect.setAttribute("fill", "#1565c0");
    rect.setAttribute("fill-opacity", "0.15");
    rect.setAttribute("stroke", "#1565c0");
    svg.appendChild(rect);
  });
  svg.addEventListener("mousemove", function (event) {
    if (!start) { return; }
    var p = point(event);
    rect.setAttribute("x", Math.min(start.x, p.x));
    rect.setAttribute("y", Math.min(start.y, p.y));
    rect.setAttribute("width", Math.abs(p.x - start.x));
    rect.setAttribute("height", Math.abs(p.y - start.y));
  });
  svg.addEventListener("mouseup", function (event) {
    if (!start) { return; }
    var p = point(event), a = start;
    start = null;
    if (Math.abs(p.x - a.x) < 3 || Math.abs(p.y - a.y) < 3) { rect.remove(); return; }   /* a click */
    var west = lon(Math.min(a.x, p.x)), east = lon(Math.max(a.x, p.x));
    var north = lat(Math.min(a.y, p.y)), south = lat(Math.max(a.y, p.y));
    field.value = [south, west, north, east].map(fixed).join(",");
    form.submit();
  });
}());
