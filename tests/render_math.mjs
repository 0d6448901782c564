// Typeset TeX with MathJax 3, as GitHub renders Markdown math, and report what came out.
//
//   node tests/render_math.mjs NODE_MODULES < expressions.json > results.json
//
// NODE_MODULES is a node_modules folder holding mathjax-full 3. stdin: a JSON list of
// {"tex": "...", "display": true|false}; stdout: a JSON list, in the same order, of
// {"error": message or null, "width_ex": the SVG's width attribute in ex}.
//
// The TeX input loads base, ams and newcommand and not noundefined, so an undefined macro is an
// error. MathJax does not throw on a TeX error: it typesets an <merror> node, which the SVG output
// marks with data-mml-node="merror" and the message in data-mjx-error; that is what is reported.
import {createRequire} from 'node:module';
import {readFileSync} from 'node:fs';
import path from 'node:path';

const require = createRequire(import.meta.url);
const modules = path.resolve(process.argv[2]);
const mathjaxModule = (name) => require(path.join(modules, 'mathjax-full', 'js', name));

const {mathjax} = mathjaxModule('mathjax.js');
const {TeX} = mathjaxModule('input/tex.js');
const {SVG} = mathjaxModule('output/svg.js');
const {liteAdaptor} = mathjaxModule('adaptors/liteAdaptor.js');
const {RegisterHTMLHandler} = mathjaxModule('handlers/html.js');
for (const name of ['base/BaseConfiguration.js', 'ams/AmsConfiguration.js', 'newcommand/NewcommandConfiguration.js']) {
  mathjaxModule(path.join('input', 'tex', name));
}

const adaptor = liteAdaptor();
RegisterHTMLHandler(adaptor);
const document = mathjax.document('', {
  InputJax: new TeX({packages: ['base', 'ams', 'newcommand']}),
  OutputJax: new SVG({fontCache: 'none'}),
});

function render({tex, display}) {
  let svg;
  try {
    svg = adaptor.outerHTML(document.convert(tex, {display}));
  } catch (thrown) {
    return {error: String(thrown && thrown.message || thrown), width_ex: null};
  }
  const merror = /data-mml-node="merror"[^>]*?data-mjx-error="([^"]*)"/.exec(svg)
    || (svg.includes('data-mml-node="merror"') ? [null, 'merror'] : null);
  const width = /<svg[^>]*?\swidth="([0-9.]+)ex"/.exec(svg);
  return {error: merror ? merror[1] : null, width_ex: width ? Number(width[1]) : null};
}

const expressions = JSON.parse(readFileSync(0, 'utf8'));
process.stdout.write(JSON.stringify(expressions.map(render)));
