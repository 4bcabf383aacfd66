// Small form helpers that the Content-Security-Policy allows (no inline handlers):
// <form data-confirm="Question?"> asks before submitting; <input data-select-all="selector">
// ticks or clears every checkbox the selector finds.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form instanceof HTMLFormElement && form.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
}, true);

document.addEventListener("change", (event) => {
  const box = event.target;
  if (!(box instanceof HTMLInputElement) || !box.dataset.selectAll) return;
  for (const other of document.querySelectorAll(box.dataset.selectAll)) other.checked = box.checked;
});
