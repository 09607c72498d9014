/* The web pages' only script: small enhancements; every page works without it. */
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  // "Afdrukken of opslaan als PDF": the browser's print dialog (Save as PDF is one of its targets).
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () {
      window.print();
    });
  });

  // An error summary or a receipt gets the focus, so it is read out and keyboard users start there.
  var first = document.querySelector("[data-focus]");
  if (first) {
    first.focus();
  }

  // The signal form: show the inputs of the chosen way to name the young person (with or
  // without BSN); without this script both are shown and the choice still decides.
  var choice = document.querySelector("[data-subject-choice]");
  if (choice) {
    var update = function () {
      var checked = choice.querySelector("input:checked");
      var mode = checked ? checked.value : "bsn";
      document.querySelectorAll("[data-subject]").forEach(function (part) {
        part.hidden = part.getAttribute("data-subject") !== mode;
      });
    };
    choice.addEventListener("change", update);
    update();
  }

  // The track form: offer as case director only persons of a party on the chosen track's case
  // team (each track names its team in data-team); the server checks it in any case.
  var directors = document.querySelector("[data-directors]");
  if (directors) {
    var tracks = document.querySelectorAll("input[name=track][data-team]");
    var offer = function () {
      var chosen = document.querySelector("input[name=track][data-team]:checked");
      var team = chosen ? chosen.getAttribute("data-team").split(" ") : null;
      directors.querySelectorAll("optgroup[data-party]").forEach(function (group) {
        var off = team !== null && team.indexOf(group.getAttribute("data-party")) < 0;
        group.disabled = off;
        group.hidden = off;
        if (off && group.contains(directors.options[directors.selectedIndex])) {
          directors.value = "";
        }
      });
    };
    tracks.forEach(function (track) {
      track.addEventListener("change", offer);
    });
    offer();
  }
});
