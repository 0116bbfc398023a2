// The desktop's pop card reduced to its place: the test shows pops and pop.place messages to it.
import * as words from "/static/pop_place.js";

window.announced = [];
window.place = new words.PopPlace(document.getElementById("pop-place"), { announce: (text) => window.announced.push(text) });
window.placeWords = words;
document.body.dataset.ready = "yes";
