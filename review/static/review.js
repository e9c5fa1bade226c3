// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  // Move focus to the error summary so screen reader and keyboard users hear the problem first.
  var summary = document.querySelector("[data-focus]");
  if (summary) { summary.focus(); }
  // A live count of the characters left in a decision reason.
  var fields = document.querySelectorAll("textarea[data-maxlength]");
  Array.prototype.forEach.call(fields, function (field) {
    var max = parseInt(field.getAttribute("data-maxlength"), 10);
    var counter = document.getElementById(field.id + "-count");
    if (!counter || !max) { return; }
    var update = function () {
      var left = max - field.value.length;
      counter.textContent = left >= 0 ? "You have " + left + " characters remaining"
                                      : "You have " + (-left) + " characters too many";
    };
    field.addEventListener("input", update);
    update();
  });
})();
