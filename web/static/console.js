// The console's own script, beside htmx (served from this origin: the CSP allows no
// inline script). A button with data-copy="#field" copies that field's value; where the
// clipboard is refused, the field is selected for the visitor to copy.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  const field = button && document.querySelector(button.dataset.copy);
  if (!field) return;
  const done = (text) => { button.textContent = text; };
  const select = () => { field.focus(); field.select(); done("Selected: press Ctrl+C"); };
  if (navigator.clipboard) {
    navigator.clipboard.writeText(field.value).then(() => done("Copied"), select);
  } else {
    select();
  }
});
