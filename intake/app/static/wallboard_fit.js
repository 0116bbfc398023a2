// A wall screen is never scrolled: a table longer than its panel shows the rows that fit and a
// last row "+N more" (rows are given most important first, so what is cut is the least urgent).
export function fitRows(panel, tbody, columns) {
  const rows = [...tbody.rows].filter((r) => !r.classList.contains("more"));
  tbody.querySelectorAll("tr.more").forEach((r) => r.remove());
  for (const r of rows) r.hidden = false;
  const over = () => panel.scrollHeight > panel.clientHeight + 1;
  if (!over()) return 0;
  const more = document.createElement("tr");
  more.className = "more";
  const cell = document.createElement("td");
  cell.colSpan = columns;
  more.append(cell);
  tbody.append(more);
  let hidden = 0;
  for (let i = rows.length - 1; i >= 0 && over(); i -= 1) {
    rows[i].hidden = true;
    hidden += 1;
    cell.textContent = `+${hidden} more`;
  }
  return hidden;
}
