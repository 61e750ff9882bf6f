// The dashboard's end-to-end tests in headless Chromium (Debian's /usr/lib/chromium/chromium,
// driven by playwright-core): every assertion is written against the DOM contract in
// src/ui/pages.h. Run by scripts/ui-test.sh, which starts the servers, seeds them and sets:
//   BUILDTRACE_UI_URL            the open server (no access control), seeded with both projects
//   BUILDTRACE_UI_AUTH_URL       the server started with --auth-tokens-file, seeded likewise
//   BUILDTRACE_UI_TOKEN          a token of that file with ingest,read on every project
//   BUILDTRACE_UI_OTHER_TOKEN    a token of that file with read on another project only
//   BUILDTRACE_UI_PROJECT        the simulated project (default demo)
//   BUILDTRACE_UI_XSS_PROJECT    the hand-made project whose IDs are markup (default xss)
//   UI_SCREENSHOTS               where full-page PNGs go (default build/ui-screenshots)
//   UI_WAIT_MS                   the longest wait for one element or event (default 5000)
//   CHROMIUM                     the browser (default /usr/lib/chromium/chromium)
// Every page is also checked for console errors, uncaught exceptions, failed requests, answers
// >= 400 and dialogs (a dialog fails the test). Waits are for selectors and events, each bounded
// by UI_WAIT_MS, so a missing element fails with a message instead of hanging.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';

const env = process.env;
const OPEN_URL = env.BUILDTRACE_UI_URL;
const AUTH_URL = env.BUILDTRACE_UI_AUTH_URL;
const TOKEN = env.BUILDTRACE_UI_TOKEN;
const OTHER_TOKEN = env.BUILDTRACE_UI_OTHER_TOKEN;
const PROJECT = env.BUILDTRACE_UI_PROJECT || 'demo';
const XSS_PROJECT = env.BUILDTRACE_UI_XSS_PROJECT || 'xss';
const SHOTS = path.resolve(env.UI_SCREENSHOTS || 'build/ui-screenshots');
const WAIT_MS = Number(env.UI_WAIT_MS || 5000);
const CHROMIUM = env.CHROMIUM || '/usr/lib/chromium/chromium';
if (!OPEN_URL) {
  throw new Error('BUILDTRACE_UI_URL is not set: run scripts/ui-test.sh, which starts and seeds the servers');
}

// The IDs of the hand-made project (scripts/ui-test.sh posts them): markup that must show as text.
const SCRIPT_ID = '<script>alert(1)</script>';
const IMG_ID = '"><img src=x onerror=alert(1)>';
const QUOTE_ID = "x' onfocus='alert(3)";

let browser;
before(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
    timeout: 30000,
  });
});
after(async () => {
  await browser?.close();
});

// --- Helpers ------------------------------------------------------------------------------------

// A fresh context and page whose problems are collected: console errors, uncaught exceptions,
// failed requests, answers >= 400 (but those with a status in `allow`, and the console's
// "Failed to load resource" line for them), dialogs (dismissed, then reported).
// `ignoreFavicon`: for pages that are not the dashboard's (/docs), whose browser asks /favicon.ico
// on its own; the dashboard's pages must not fail it (a test of its own checks the favicon).
async function openPage({ allow = [], ignoreFavicon = false } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(WAIT_MS);
  context.setDefaultNavigationTimeout(Math.max(WAIT_MS, 10000));
  const page = await context.newPage();
  const problems = [];
  const dialogs = [];
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const text = message.text();
    if (ignoreFavicon && isFavicon(message.location().url)) return;
    const allowed = allow.some((status) => text.includes(`status of ${status}`));
    if (!allowed) problems.push(`console error: ${text} (${message.location().url})`);
  });
  page.on('pageerror', (error) => problems.push(`uncaught exception: ${error.message}`));
  page.on('requestfailed', (request) => {
    if (ignoreFavicon && isFavicon(request.url())) return;
    const failure = request.failure()?.errorText ?? 'failed';
    // A navigation superseded by the next one (a form submitted twice), or the favicon the browser
    // was still fetching when the test moved on, is aborted: not a fault of the page.
    if (failure === 'net::ERR_ABORTED' && (request.isNavigationRequest() || isFaviconPath(request.url()))) return;
    problems.push(`request failed: ${request.method()} ${request.url()}: ${failure}`);
  });
  page.on('response', (response) => {
    if (ignoreFavicon && isFavicon(response.url())) return;
    if (response.status() >= 400 && !allow.includes(response.status())) {
      problems.push(`answer ${response.status()} to ${response.request().method()} ${response.url()}`);
    }
  });
  page.on('dialog', async (dialog) => {
    dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    await dialog.dismiss().catch(() => {});
  });
  const clean = () => {
    assert.deepEqual(dialogs, [], `a dialog opened (script ran from the page's data): ${dialogs.join('; ')}`);
    assert.deepEqual(problems, [], `the page had problems:\n  ${problems.join('\n  ')}`);
  };
  return { context, page, problems, dialogs, clean, close: () => context.close() };
}

const pathOf = (url) => { try { return new URL(url).pathname; } catch { return ''; } };
const isFavicon = (url) => pathOf(url) === '/favicon.ico';
const isFaviconPath = (url) => ['/favicon.ico', '/favicon.svg'].includes(pathOf(url));

// Navigates and requires `status` (200 by default), saying what the server answered instead.
async function visit(page, url, status = 200) {
  const response = await page.goto(url, { waitUntil: 'load' });
  assert.ok(response, `no answer to GET ${url}`);
  if (response.status() !== status) {
    const body = (await response.text().catch(() => '')).slice(0, 300);
    assert.fail(`GET ${url} answered ${response.status()}, expected ${status}: ${body}`);
  }
  return response;
}

// Waits for `selector` to be in the document, failing with `what` after UI_WAIT_MS.
async function present(page, selector, what) {
  try {
    await page.waitForSelector(selector, { state: 'attached', timeout: WAIT_MS });
  } catch {
    assert.fail(`${what}: no element matches ${selector} within ${WAIT_MS} ms on ${page.url()}`);
  }
  return page.locator(selector);
}

// Waits for `fn(arg)` in the page to be truthy, failing with `what` after UI_WAIT_MS.
async function until(page, fn, arg, what) {
  try {
    return await page.waitForFunction(fn, arg, { timeout: WAIT_MS });
  } catch {
    assert.fail(`${what} (not within ${WAIT_MS} ms on ${page.url()})`);
  }
}

async function screenshot(page, name) {
  await mkdir(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, name), fullPage: true });
}

async function getJson(base, pathAndQuery, token) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const response = await fetch(new URL(pathAndQuery, base), { headers, signal: AbortSignal.timeout(10000) });
  const text = await response.text();
  assert.equal(response.status, 200, `GET ${pathAndQuery} answered ${response.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

const enc = encodeURIComponent;
const projectPath = (project) => `/ui/projects/${enc(project)}`;
const jobPath = (project, jobId) => `${projectPath(project)}/jobs/${jobId}`;

// The report's counts by kind (GET /report/N JSON: metrics.total_*).
function reportCounts(report) {
  const m = report.metrics;
  return {
    added: m.total_added, removed: m.total_removed, moved: m.total_moved, resized: m.total_resized,
    retyped: m.total_retyped, changed: m.total_changed, unchanged: m.total_unchanged,
  };
}

// The job of `project` to look at: analysed against a base, with the most of added, removed and
// moved present (then the most changes), under the overlay's cap and the page's lists.
let chosen;
async function chooseJob(base = OPEN_URL, project = PROJECT, token) {
  if (chosen && base === OPEN_URL && project === PROJECT) return chosen;
  const { jobs } = await getJson(base, `/projects/${enc(project)}/jobs?limit=1000`, token);  // all 12
  const candidates = jobs.filter((job) => job.status === 'succeeded' && job.base_job_id != null);
  assert.ok(candidates.length, `project ${project} has no succeeded job with a base: was it seeded?`);
  const score = (job) => {
    const c = job.counts ?? {};
    const kinds = ['added', 'removed', 'moved'].filter((k) => (c[k] ?? 0) > 0).length;
    return kinds * 1e6 + (c.added ?? 0) + (c.removed ?? 0) + (c.modified ?? 0);
  };
  candidates.sort((a, b) => score(b) - score(a));
  const job = candidates[0];
  const report = await getJson(base, `/report/${job.job_id}?project=${enc(project)}`, token);
  assert.equal(report.changes.truncated, false, `job ${job.job_id}'s report is truncated: not under the cap`);
  const result = { jobId: job.job_id, report, counts: reportCounts(report), jobs };
  if (base === OPEN_URL && project === PROJECT) chosen = result;
  return result;
}

// The data-ids of the page's listed objects and overlay marks, each with whether it is hidden.
// Hidden: no box (display: none on it or an ancestor; Chromium's checkVisibility says true for SVG
// elements under display: none, so their client rects are asked too), visibility or opacity 0.
function listedAndMarked() {
  const hidden = (el) => !el.checkVisibility({ visibilityProperty: true, opacityProperty: true }) ||
    el.getClientRects().length === 0 || getComputedStyle(el).visibility !== 'visible';
  const pick = (selector) =>
    [...document.querySelectorAll(selector)].map((el) => ({ id: el.getAttribute('data-id'), hidden: hidden(el) }));
  return { items: pick('li[data-id]'), marks: pick('#overlay-view .mark[data-id]') };
}

// --- The existing server: the harness itself works end to end -----------------------------------

describe('smoke: pages the server already serves', () => {
  test('/docs loads without console errors or failed requests', async () => {
    const p = await openPage({ ignoreFavicon: true });
    try {
      await visit(p.page, `${OPEN_URL}/docs`);
      await present(p.page, 'h1', '/docs');
      assert.match(await p.page.title(), /BuildTrace/);
      p.clean();
    } finally {
      await p.close();
    }
  });

  test('/openapi.json loads and is OpenAPI 3.1', async () => {
    const p = await openPage({ ignoreFavicon: true });
    try {
      const response = await visit(p.page, `${OPEN_URL}/openapi.json`);
      const spec = JSON.parse(await response.text());
      assert.match(spec.openapi, /^3\.1/);
      p.clean();
    } finally {
      await p.close();
    }
  });

  test('/report/N.svg draws one mark per added, removed and moved object of the report', async () => {
    const { jobId, counts } = await chooseJob();
    const p = await openPage({ ignoreFavicon: true });
    try {
      await visit(p.page, `${OPEN_URL}/report/${jobId}.svg?project=${enc(PROJECT)}`);
      await present(p.page, 'svg', 'the overlay image');
      for (const kind of ['added', 'removed', 'moved']) {
        assert.equal(await p.page.locator(`g.bt-${kind}`).count(), counts[kind],
          `g.bt-${kind} marks in /report/${jobId}.svg against the report's ${kind}`);
      }
      p.clean();
    } finally {
      await p.close();
    }
  });
});

// --- The dashboard, without access control -------------------------------------------------------

describe('dashboard pages', () => {
  test('GET / lists the projects', async () => {
    const p = await openPage();
    try {
      await visit(p.page, `${OPEN_URL}/`);
      await present(p.page, 'table#projects', 'the projects page');
      for (const project of [PROJECT, XSS_PROJECT]) {
        const row = `#projects tr[data-project="${project}"]`;
        await present(p.page, row, `the row of project ${project}`);
        await present(p.page, `${row} a[href="${projectPath(project)}"]`, `the link to project ${project}'s page`);
      }
      await present(p.page, `#projects tr[data-project="${PROJECT}"] svg.sparkline`, 'the latency sparkline');
      assert.equal(await p.page.locator('#no-projects').count(), 0, '#no-projects shows although there are projects');
      await screenshot(p.page, 'projects.png');
      p.clean();
    } finally {
      await p.close();
    }
  });

  test('the favicon is served', async () => {
    for (const name of ['/favicon.svg', '/favicon.ico']) {
      const response = await fetch(new URL(name, OPEN_URL), { signal: AbortSignal.timeout(10000) });
      assert.equal(response.status, 200, `GET ${name} answered ${response.status}`);
      assert.match(await response.text(), /<svg/, `GET ${name} is not an SVG document`);
    }
  });

  test('the project page charts every job of the window and lists the jobs', async () => {
    const { jobs } = await chooseJob();
    const windowStart = Date.now() - 30 * 24 * 3600 * 1000;
    const inWindow = jobs.filter((job) => Date.parse(job.timestamp) >= windowStart);
    const p = await openPage();
    try {
      await visit(p.page, `${OPEN_URL}${projectPath(PROJECT)}?window=30d`);
      await present(p.page, 'form#window-filter select[name="window"]', 'the window filter');
      assert.equal(await p.page.locator('#window-filter select[name="window"]').inputValue(), '30d');
      await present(p.page, 'svg#changes-chart', 'the changes chart');
      const bars = await p.page.locator('#changes-chart .bar').evaluateAll(
        (els) => els.map((el) => Number(el.getAttribute('data-job-id'))));
      assert.deepEqual([...bars].sort((a, b) => a - b), inWindow.map((j) => j.job_id).sort((a, b) => a - b),
        `#changes-chart .bar: one per job of the 30d window (${inWindow.length} jobs, all charted)`);
      assert.equal(await p.page.locator('#latency-chart circle.job').count(), inWindow.length,
        '#latency-chart circle.job: one per charted job');
      await present(p.page, '#latency-chart line.p99', 'the p99 line of the latency chart');
      await present(p.page, `table#jobs tr[data-job-id="${jobs[0].job_id}"]`, 'the newest job\'s row');
      await screenshot(p.page, 'project.png');
      p.clean();
    } finally {
      await p.close();
    }
  });

  test('the window filter changes the URL\'s window=', async () => {
    const p = await openPage();
    try {
      await visit(p.page, `${OPEN_URL}${projectPath(PROJECT)}?window=30d`);
      const select = await present(p.page, '#window-filter select[name="window"]', 'the window filter');
      await select.selectOption('7d');
      const submit = await present(p.page, '#window-filter button, #window-filter input[type="submit"]',
        'the window filter\'s submit button');
      const landed = p.page.waitForURL((u) => u.searchParams.get('window') === '7d', { timeout: WAIT_MS })
        .catch(() => assert.fail(`submitting the window filter with 7d left the URL at ${p.page.url()}`));
      if (new URL(p.page.url()).searchParams.get('window') !== '7d') await submit.first().click();
      await landed;
      await p.page.waitForLoadState('load');
      assert.equal(await p.page.locator('#window-filter select[name="window"]').inputValue(), '7d',
        'the 7d page selects 7d in its window filter');
      p.clean();
    } finally {
      await p.close();
    }
  });

  test('the job page: summary and overlay marks match the report', async () => {
    const { jobId, counts } = await chooseJob();
    const p = await openPage();
    try {
      await visit(p.page, `${OPEN_URL}${jobPath(PROJECT, jobId)}`);
      await present(p.page, 'section#summary', 'the summary');
      for (const [kind, n] of Object.entries(counts)) {
        const span = await present(p.page, `#summary span[data-count="${kind}"]`, `the ${kind} count`);
        assert.equal((await span.textContent()).trim(), String(n), `#summary's ${kind} count`);
      }
      await present(p.page, '#overlay-view svg', 'the overlay');
      for (const kind of ['added', 'removed', 'moved']) {
        assert.equal(await p.page.locator(`#overlay-view .mark[data-kind="${kind}"]`).count(), counts[kind],
          `.mark[data-kind=${kind}] in the overlay against the report's ${kind} count`);
      }
      for (const kind of ['added', 'removed', 'moved', 'resized', 'retyped', 'changed']) {
        const listed = await p.page.locator(`section.changes[data-kind="${kind}"] li[data-id]`).count();
        assert.equal(listed, counts[kind], `li[data-id] in section.changes[data-kind=${kind}]`);
      }
      await present(p.page, '#why-base', 'the base\'s explanation');
      await present(p.page, 'label[for="filter"]', 'the filter\'s label');
      await screenshot(p.page, 'job.png');
      p.clean();
    } finally {
      await p.close();
    }
  });

  test('typing in #filter hides what does not match and counts what does', async () => {
    const { jobId } = await chooseJob();
    const p = await openPage();
    try {
      await visit(p.page, `${OPEN_URL}${jobPath(PROJECT, jobId)}`);
      const filter = await present(p.page, 'input#filter[type="search"]', 'the filter box');
      await present(p.page, '#filter-count', 'the filter count');
      const { items, marks } = await p.page.evaluate(listedAndMarked);
      assert.ok(items.length > 0 && marks.length > 0, 'the job page lists no objects or draws no marks');
      const ids = new Set([...items, ...marks].map((x) => x.id));
      // A text that matches some IDs but not all, in the other case (the filter ignores case).
      const flip = (s) => (s === s.toLowerCase() ? s.toUpperCase() : s.toLowerCase());
      const matching = (text) => [...ids].filter((id) => id.toLowerCase().includes(text.toLowerCase()));
      const text = items.flatMap((x) => [x.id.slice(0, 1), x.id.slice(0, 2), x.id]).map(flip)
        .find((t) => t && matching(t).length > 0 && matching(t).length < ids.size);
      assert.ok(text, 'no filter text matches part of the IDs');
      const expected = new Set(matching(text));
      await filter.fill(text);
      // Wait for the filter to have acted: every non-matching mark and item hidden.
      await until(p.page, ([t]) => {
        const hidden = (el) => !el.checkVisibility({ visibilityProperty: true, opacityProperty: true }) ||
          el.getClientRects().length === 0 || getComputedStyle(el).visibility !== 'visible';  // as listedAndMarked
        return [...document.querySelectorAll('li[data-id], #overlay-view .mark[data-id]')]
          .every((el) => el.getAttribute('data-id').toLowerCase().includes(t.toLowerCase()) || hidden(el));
      }, [text], `typing "${text}" in #filter did not hide the li[data-id] and .mark not matching it`);
      const after = await p.page.evaluate(listedAndMarked);
      for (const x of [...after.items, ...after.marks]) {
        assert.equal(x.hidden, !expected.has(x.id), `${x.id} is ${x.hidden ? 'hidden' : 'shown'} with the filter "${text}"`);
      }
      const countText = await p.page.locator('#filter-count').textContent();
      const number = countText.match(/\d+/);
      assert.ok(number, `#filter-count says no number: "${countText}"`);
      assert.equal(Number(number[0]), expected.size,
        `#filter-count ("${countText.trim()}") against the distinct IDs matching "${text}" among li[data-id] and .mark`);
      await filter.fill('');
      await until(p.page, () => [...document.querySelectorAll('li[data-id], #overlay-view .mark[data-id]')]
        .every((el) => el.checkVisibility({ visibilityProperty: true, opacityProperty: true }) &&
          el.getClientRects().length > 0 && getComputedStyle(el).visibility === 'visible'),
      undefined, 'emptying #filter did not show every li[data-id] and .mark again');
      p.clean();
    } finally {
      await p.close();
    }
  });

  test('Tab from the filter box reaches every mark, and focus shows its details', { timeout: 120000 }, async () => {
    const { jobId } = await chooseJob();
    const p = await openPage();
    try {
      await visit(p.page, `${OPEN_URL}${jobPath(PROJECT, jobId)}`);
      await present(p.page, '#object-details[aria-live="polite"]', 'the object details');
      await present(p.page, '#overlay-view .mark[data-id]', 'the overlay marks');
      const all = new Set(await p.page.locator('#overlay-view .mark[data-id]').evaluateAll(
        (els) => els.map((el) => el.getAttribute('data-id'))));
      await p.page.focus('#filter');
      const seen = new Set();
      const wrongDetails = [];
      const cap = Math.min(5000, 2 * all.size + 200);  // every mark, plus the page's links and buttons
      for (let i = 0; i < cap && seen.size < all.size; i++) {
        await p.page.keyboard.press('Tab');
        const focused = await p.page.evaluate(() => {
          const mark = document.activeElement?.closest?.('#overlay-view .mark[data-id]');
          if (!mark) return null;
          return { id: mark.getAttribute('data-id'), details: document.querySelector('#object-details').textContent };
        });
        if (!focused) continue;
        seen.add(focused.id);
        if (!focused.details.includes(focused.id)) wrongDetails.push(`${focused.id}: "${focused.details.slice(0, 80)}"`);
      }
      const missed = [...all].filter((id) => !seen.has(id));
      assert.deepEqual(missed.slice(0, 20), [],
        `${missed.length} of ${all.size} marks never took the focus in ${cap} presses of Tab from #filter`);
      assert.deepEqual(wrongDetails.slice(0, 10), [], 'focusing these marks did not put their id in #object-details');
      p.clean();
    } finally {
      await p.close();
    }
  });

  test('the zoom buttons change the overlay\'s viewBox', async () => {
    const { jobId } = await chooseJob();
    const p = await openPage();
    try {
      await visit(p.page, `${OPEN_URL}${jobPath(PROJECT, jobId)}`);
      await present(p.page, '#overlay-view svg[viewBox]', 'the overlay\'s svg');
      const viewBox = () => p.page.locator('#overlay-view svg').first().getAttribute('viewBox');
      const changed = (from, what) => until(p.page, ([v]) =>
        document.querySelector('#overlay-view svg').getAttribute('viewBox') !== v, [from], what);
      const width = (vb) => Number(vb.trim().split(/[\s,]+/)[2]);
      const start = await viewBox();
      await (await present(p.page, 'button#zoom-in', 'the zoom-in button')).click();
      await changed(start, `clicking #zoom-in left the viewBox at "${start}"`);
      const zoomedIn = await viewBox();
      assert.ok(width(zoomedIn) < width(start), `zooming in widened the viewBox: "${start}" -> "${zoomedIn}"`);
      await (await present(p.page, 'button#zoom-out', 'the zoom-out button')).click();
      await changed(zoomedIn, `clicking #zoom-out left the viewBox at "${zoomedIn}"`);
      const zoomedOut = await viewBox();
      assert.ok(width(zoomedOut) > width(zoomedIn), `zooming out narrowed the viewBox: "${zoomedIn}" -> "${zoomedOut}"`);
      await p.page.click('button#zoom-in');
      await changed(zoomedOut, 'clicking #zoom-in a second time left the viewBox as it was');
      await (await present(p.page, 'button#zoom-reset', 'the zoom-reset button')).click();
      await until(p.page, ([v]) => document.querySelector('#overlay-view svg').getAttribute('viewBox') === v,
        [start], `clicking #zoom-reset did not bring the viewBox back to "${start}"`);
      p.clean();
    } finally {
      await p.close();
    }
  });

  test('IDs that are markup show as text and run nothing', async () => {
    const p = await openPage();
    try {
      for (const url of ['/', projectPath(XSS_PROJECT), jobPath(XSS_PROJECT, 2)]) {
        await visit(p.page, `${OPEN_URL}${url}`);
        assert.equal(await p.page.locator('img[src="x"]').count(), 0, `an img[src=x] element exists on ${url}`);
      }
      for (const id of [SCRIPT_ID, IMG_ID, QUOTE_ID]) {
        const texts = await p.page.locator('li[data-id]').evaluateAll(
          (els, wanted) => els.filter((el) => el.getAttribute('data-id') === wanted).map((el) => el.textContent), id);
        assert.equal(texts.length, 1, `li[data-id] of the ID ${id}`);
        assert.ok(texts[0].includes(id), `the li of ${id} does not show it as text: "${texts[0]}"`);
      }
      const markIds = await p.page.locator('#overlay-view .mark[data-id]').evaluateAll(
        (els) => els.map((el) => el.getAttribute('data-id')));
      for (const id of [SCRIPT_ID, IMG_ID]) assert.ok(markIds.includes(id), `no overlay mark has the data-id ${id}`);
      // Hovering and focusing each mark puts its ID in #object-details: as text, never as markup.
      const marks = p.page.locator('#overlay-view .mark[data-id]');
      for (let i = 0; i < await marks.count(); i++) {
        const mark = marks.nth(i);
        const id = await mark.getAttribute('data-id');
        await mark.hover({ force: true });
        await mark.focus();
        await until(p.page, ([wanted]) => document.querySelector('#object-details')?.textContent.includes(wanted),
          [id], `focusing the mark of ${id} did not show it as text in #object-details`);
      }
      assert.equal(await p.page.locator('img[src="x"]').count(), 0, 'an img[src=x] element exists on the job page');
      assert.equal(await p.page.locator('[onerror], [onfocus], [onmouseover]').count(), 0,
        'an element of the job page has an onerror/onfocus/onmouseover attribute');
      const scripts = await p.page.locator('script').evaluateAll((els) => els.map((el) => el.textContent));
      assert.ok(!scripts.some((s) => s.includes('alert(')), 'a <script> element holds the ID\'s alert(...)');
      p.clean();  // includes: no dialog opened
    } finally {
      await p.close();
    }
  });
});

// --- Access control ------------------------------------------------------------------------------

describe('access control', { skip: AUTH_URL ? false : 'BUILDTRACE_UI_AUTH_URL is not set' }, () => {
  const signin = async (page, token) => {
    await (await present(page, 'form#signin input#token', 'the sign-in form')).fill(token);
    const answer = page.waitForResponse((r) => r.request().method() === 'POST' &&
      new URL(r.url()).pathname === '/ui/signin', { timeout: WAIT_MS });
    // The submit button: a <button> (submit unless typed otherwise) or an <input type=submit>.
    await page.locator('form#signin button:not([type="button"]):not([type="reset"]), form#signin input[type="submit"]')
      .first().click();
    const response = await answer;
    await page.waitForLoadState('load');
    return response;
  };

  test('a page without a cookie redirects to the sign-in page, which names the page in next', async () => {
    const p = await openPage();
    try {
      for (const target of ['/', `${projectPath(PROJECT)}?window=7d`]) {
        const response = await visit(p.page, `${AUTH_URL}${target}`);
        const landed = new URL(p.page.url());
        assert.equal(landed.pathname, '/ui/signin', `GET ${target} without a cookie landed on ${p.page.url()}`);
        assert.equal(landed.searchParams.get('next'), target, `the sign-in page's next for ${target}`);
        const first = response.request().redirectedFrom();
        assert.ok(first, `GET ${target} was not redirected`);
        assert.equal((await first.response()).status(), 303, `the redirect of ${target}`);
        assert.equal(await p.page.locator('form#signin input[name="next"]').inputValue(), target,
          'the sign-in form\'s hidden next');
      }
      p.clean();
    } finally {
      await p.close();
    }
  });

  test('the sign-in page follows its contract', async () => {
    const p = await openPage();
    try {
      await visit(p.page, `${AUTH_URL}/ui/signin?next=${enc('/')}`);
      const form = await present(p.page, 'form#signin[method="post"][action="/ui/signin"]', 'the sign-in form');
      assert.equal(await form.count(), 1);
      await present(p.page, 'label[for="token"]', 'the token\'s label');
      await present(p.page, 'input#token[name="token"][type="password"][autocomplete="current-password"]', 'the token input');
      await present(p.page, 'form#signin input[type="hidden"][name="next"]', 'the hidden next');
      assert.equal(await p.page.locator('#signin-error').count(), 0, '#signin-error shows before any attempt');
      await screenshot(p.page, 'signin.png');
      p.clean();
    } finally {
      await p.close();
    }
  });

  test('a wrong token gets 401 and #signin-error, and no cookie', async () => {
    const p = await openPage({ allow: [401] });
    try {
      await visit(p.page, `${AUTH_URL}/ui/signin?next=${enc('/')}`);
      const response = await signin(p.page, 'not-a-token');
      assert.equal(response.status(), 401, 'the answer to a wrong token');
      await present(p.page, '#signin-error[role="alert"]', 'the sign-in error');
      assert.ok((await p.page.locator('#signin-error').textContent()).trim(), '#signin-error is empty');
      const cookies = await p.context.cookies(AUTH_URL);
      assert.equal(cookies.filter((c) => c.name === 'buildtrace_token').length, 0, 'a wrong token set a cookie');
      p.clean();
    } finally {
      await p.close();
    }
  });

  test('the right token lands on the page with an HttpOnly, SameSite=Strict cookie; sign-out ends it', async () => {
    const p = await openPage();
    try {
      await visit(p.page, `${AUTH_URL}/`);
      const response = await signin(p.page, TOKEN);
      assert.equal(response.status(), 303, 'the answer to the right token');
      assert.equal(new URL(p.page.url()).pathname, '/', `signed in, the browser is on ${p.page.url()}`);
      await present(p.page, 'table#projects', 'the projects page after signing in');
      const cookie = (await p.context.cookies(AUTH_URL)).find((c) => c.name === 'buildtrace_token');
      assert.ok(cookie, 'no buildtrace_token cookie after signing in');
      assert.equal(cookie.httpOnly, true, 'the cookie is not HttpOnly');
      assert.equal(cookie.sameSite, 'Strict', 'the cookie is not SameSite=Strict');
      assert.equal(cookie.path, '/', 'the cookie\'s Path');
      assert.equal(cookie.secure, false, 'the cookie is Secure over plain HTTP (the browser would not send it)');
      assert.ok(!(await p.page.evaluate(() => document.cookie)).includes('buildtrace_token'),
        'the page\'s script can read the cookie');
      await visit(p.page, `${AUTH_URL}${projectPath(PROJECT)}`);
      await present(p.page, 'svg#changes-chart', 'the project page, signed in');
      // The page's own sign-out button (a form POST: the pages' Content-Security-Policy lets no
      // script fetch anything).
      const [signout] = await Promise.all([
        p.page.waitForResponse((r) => new URL(r.url()).pathname === '/ui/signout', { timeout: WAIT_MS }),
        p.page.click('form[action="/ui/signout"] button'),
      ]);
      assert.equal(signout.status(), 303, 'POST /ui/signout');
      await p.page.waitForURL((u) => u.pathname === '/ui/signin', { timeout: WAIT_MS });
      const left = (await p.context.cookies(AUTH_URL)).filter((c) => c.name === 'buildtrace_token' && c.value);
      assert.deepEqual(left, [], 'the cookie is still set after POST /ui/signout');
      await visit(p.page, `${AUTH_URL}/`);
      assert.equal(new URL(p.page.url()).pathname, '/ui/signin', 'signed out, / did not redirect to the sign-in page');
      p.clean();
    } finally {
      await p.close();
    }
  });

  test('behind TLS (X-Forwarded-Proto: https) the cookie is Secure; next never leaves the site', async () => {
    const post = (next, headers = {}) => fetch(new URL('/ui/signin', AUTH_URL), {
      method: 'POST',
      redirect: 'manual',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: AUTH_URL, ...headers },
      body: new URLSearchParams({ token: TOKEN, next }).toString(),
      signal: AbortSignal.timeout(10000),
    });
    const secure = await post('/', { 'X-Forwarded-Proto': 'https' });
    assert.equal(secure.status, 303, `POST /ui/signin with X-Forwarded-Proto: https answered ${secure.status}`);
    const cookie = secure.headers.getSetCookie().find((c) => c.startsWith('buildtrace_token='));
    assert.ok(cookie, 'no Set-Cookie: buildtrace_token');
    for (const attribute of [/;\s*HttpOnly/i, /;\s*SameSite=Strict/i, /;\s*Path=\//i, /;\s*Secure/i]) {
      assert.match(cookie, attribute, `Set-Cookie behind TLS: ${cookie.replace(/=[^;]*/, '=…')}`);
    }
    for (const next of ['https://evil.example/', '//evil.example/', '/\\evil.example/']) {
      const response = await post(next);
      const location = response.headers.get('location') ?? '';
      const target = new URL(location, AUTH_URL);
      assert.equal(target.origin, new URL(AUTH_URL).origin, `next=${next} sent the browser to ${location}`);
    }
  });

  test('a token scoped to another project gets 403 on this project\'s page', async () => {
    const p = await openPage({ allow: [403] });
    try {
      await visit(p.page, `${AUTH_URL}${projectPath(PROJECT)}`);
      const response = await signin(p.page, OTHER_TOKEN);
      assert.equal(response.status(), 303, 'the answer to the other project\'s token');
      const landed = await p.page.goto(`${AUTH_URL}${projectPath(PROJECT)}`);
      assert.equal(landed.status(), 403, `${projectPath(PROJECT)} with another project's token`);
      await present(p.page, 'main#error[data-status="403"]', 'the 403 error page');
      p.clean();
    } finally {
      await p.close();
    }
  });
});
