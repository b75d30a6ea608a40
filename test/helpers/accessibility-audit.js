// The page-side half of test/helpers/browser.ts accessibilityProblems(): run in the admin UI's page by Chromium, it lists
// in words what a screen reader or keyboard user would trip over on the screen as shown. Plain JavaScript (the tests'
// TypeScript has no DOM types); evaluated as one function expression.
() => {
  const problems = [];
  const doc = document;
  const visible = (el) => !el.closest('[hidden]') && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const describe = (el) => `<${el.tagName.toLowerCase()}${el.id ? ` id="${el.id}"` : ''}${el.getAttribute('name') ? ` name="${el.getAttribute('name')}"` : ''}>${(el.textContent ?? '').trim().slice(0, 40)}`;
  const referenced = (ids) => (ids ?? '').split(/\s+/).filter(Boolean).map((id) => doc.getElementById(id));
  const nameOf = (el) => {
    const aria = el.getAttribute('aria-label')?.trim();
    if (aria) return aria;
    const byIds = referenced(el.getAttribute('aria-labelledby'));
    if (byIds.length) return byIds.map((x) => x?.textContent?.trim() ?? '').join(' ').trim();
    const labels = el.labels;
    if (labels && labels.length) return [...labels].map((l) => l.textContent?.trim() ?? '').join(' ').trim();
    if (el.matches('button, a, summary')) {
      const text = (el.textContent ?? '').trim() || [...el.querySelectorAll('img[alt]')].map((i) => i.getAttribute('alt')).join(' ').trim();
      if (text) return text;
    }
    if (el.matches('input[type=submit], input[type=button]')) return el.value.trim();
    return el.getAttribute('title')?.trim() ?? '';
  };
  if (!doc.documentElement.lang) problems.push('the document has no lang');
  for (const el of doc.querySelectorAll('input:not([type=hidden]), select, textarea, button, a[href], summary, [role=button], [role=switch], [role=link]')) {
    if (visible(el) && !nameOf(el)) problems.push(`no accessible name: ${describe(el)}`);
  }
  for (const img of doc.querySelectorAll('img')) if (!img.hasAttribute('alt')) problems.push(`image without alt: ${img.getAttribute('src')}`);
  const seen = new Set();
  for (const el of doc.querySelectorAll('[id]')) {
    if (seen.has(el.id)) problems.push(`id used twice: ${el.id}`);
    seen.add(el.id);
  }
  for (const label of doc.querySelectorAll('label[for]')) if (!doc.getElementById(label.getAttribute('for'))) problems.push(`label for a missing control: ${label.getAttribute('for')}`);
  for (const attr of ['aria-labelledby', 'aria-describedby', 'aria-controls']) {
    for (const el of doc.querySelectorAll(`[${attr}]`)) {
      if (referenced(el.getAttribute(attr)).some((x) => !x)) problems.push(`${attr} points at a missing element: ${describe(el)} -> ${el.getAttribute(attr)}`);
    }
  }
  const headings = [...doc.querySelectorAll('h1, h2, h3, h4, h5, h6')].filter(visible);
  const h1s = headings.filter((h) => h.tagName === 'H1').length;
  if (h1s !== 1) problems.push(`${h1s} visible h1 headings (one expected)`);
  let level = 0;
  for (const h of headings) {
    const next = Number(h.tagName[1]);
    if (next > level + 1) problems.push(`heading level skipped: h${level} -> ${describe(h)} (h${next})`);
    level = next;
  }
  return problems;
}
