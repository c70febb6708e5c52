// The playground's browser code, as a string sent inline with the page: it reads the server's own
// /openapi.json, builds the form, and runs predictions over SSE. Plain DOM, no framework.
// It is kept free of backticks and "${" so that it can live in this template literal unchanged.

export const PLAYGROUND_SCRIPT = String.raw`
'use strict';
(function () {
  var form = document.getElementById('form');
  var fieldsBox = document.getElementById('fields');
  var runButton = document.getElementById('run');
  var cancelButton = document.getElementById('cancel');
  var statusBox = document.getElementById('status');
  var outputBox = document.getElementById('output');
  var logsBox = document.getElementById('logs');
  var metricsBox = document.getElementById('metrics');
  var errorBox = document.getElementById('error');
  var formError = document.getElementById('form-error');

  var schemas = {};
  var endpoint = 'predictions';
  var outputSchema = {};
  var fields = [];
  var current = null;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === 'text') node.textContent = attrs[key];
      else if (key === 'className') node.className = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  /** A property with its allOf/$ref (Cog's choices components) merged in. */
  function resolve(schema) {
    var merged = Object.assign({}, schema);
    (schema.allOf || []).concat(schema.$ref ? [{ $ref: schema.$ref }] : []).forEach(function (part) {
      var ref = part.$ref ? schemas[part.$ref.split('/').pop()] : part;
      // The component's own title and description ("An enumeration.") are not the field's.
      if (ref) Object.keys(ref).forEach(function (key) { if (key !== 'title' && key !== 'description' && !(key in merged)) merged[key] = ref[key]; });
    });
    delete merged.allOf;
    delete merged.$ref;
    return merged;
  }

  function isFileSchema(schema) { return schema && schema.type === 'string' && schema.format === 'uri'; }

  function readAsDataUri(file) {
    return new Promise(function (resolvePromise, reject) {
      var reader = new FileReader();
      reader.onload = function () { resolvePromise(reader.result); };
      reader.onerror = function () { reject(reader.error); };
      reader.readAsDataURL(file);
    });
  }

  /** One form row: the control, and how to read its value (undefined: not sent, the default applies). */
  function buildField(name, raw, required) {
    var schema = resolve(raw);
    var id = 'input-' + name;
    var control;
    var read;
    var hint = [];
    if (schema.enum) {
      control = el('select', { id: id, name: name });
      if (!required && schema.default === undefined) control.appendChild(el('option', { value: '', text: '(none)' }));
      schema.enum.forEach(function (value) {
        var option = el('option', { value: JSON.stringify(value), text: String(value) });
        if (value === schema.default) option.selected = true;
        control.appendChild(option);
      });
      read = function () { return control.value === '' ? undefined : JSON.parse(control.value); };
    } else if (schema.type === 'boolean') {
      control = el('input', { id: id, name: name, type: 'checkbox' });
      control.checked = schema.default === true;
      read = function () { return control.checked; };
    } else if (schema.type === 'integer' || schema.type === 'number') {
      control = el('input', { id: id, name: name, type: 'number', step: schema.type === 'integer' ? '1' : 'any' });
      if (schema.minimum !== undefined) control.min = String(schema.minimum);
      if (schema.maximum !== undefined) control.max = String(schema.maximum);
      if (schema.default !== undefined && schema.default !== null) control.value = String(schema.default);
      if (schema.minimum !== undefined || schema.maximum !== undefined) hint.push((schema.minimum !== undefined ? schema.minimum : '−∞') + ' … ' + (schema.maximum !== undefined ? schema.maximum : '∞'));
      read = function () { return control.value === '' ? undefined : Number(control.value); };
    } else if (schema['x-cog-secret'] || schema.format === 'password') {
      control = el('input', { id: id, name: name, type: 'password', autocomplete: 'off' });
      read = function () { return control.value === '' ? undefined : control.value; };
      hint.push('secret');
    } else if (isFileSchema(schema) || (schema.type === 'array' && isFileSchema(resolve(schema.items || {})))) {
      var many = schema.type === 'array';
      var picker = el('input', { id: id, name: name, type: 'file' });
      if (many) picker.multiple = true;
      if (schema['x-cog-accept']) picker.accept = schema['x-cog-accept'];
      var url = el('input', { type: 'url', placeholder: 'or a URL', 'aria-label': name + ' URL', className: 'url' });
      control = el('div', { className: 'file' }, [picker, url]);
      read = function () {
        if (picker.files && picker.files.length > 0) {
          var all = Promise.all(Array.prototype.map.call(picker.files, readAsDataUri));
          return many ? all : all.then(function (uris) { return uris[0]; });
        }
        if (url.value.trim() === '') return undefined;
        return many ? url.value.split(/\s+/).filter(Boolean) : url.value.trim();
      };
    } else if (schema.type === 'array' && resolve(schema.items || {}).type === 'string') {
      control = el('textarea', { id: id, name: name, rows: '2', placeholder: 'one per line' });
      if (Array.isArray(schema.default)) control.value = schema.default.join('\n');
      read = function () { return control.value.split('\n').filter(function (line) { return line !== ''; }); };
      hint.push('one per line');
    } else if (schema.type === 'array' || schema.type === 'object' || schema.type === undefined) {
      control = el('textarea', { id: id, name: name, rows: '2', className: 'json', placeholder: schema.type === 'array' ? '[ ]' : '{ }' });
      if (schema.default !== undefined) control.value = JSON.stringify(schema.default);
      read = function () {
        if (control.value.trim() === '') return undefined;
        try { return JSON.parse(control.value); } catch (e) { throw fieldError(name, 'not valid JSON: ' + e.message); }
      };
      hint.push('JSON');
    } else {
      control = el('textarea', { id: id, name: name, rows: '1' });
      if (typeof schema.default === 'string') control.value = schema.default;
      read = function () { return control.value === '' && !required ? undefined : control.value; };
    }
    var title = schema.title || name;
    var label = el('label', { for: id }, [el('span', { className: 'name', text: name }), required ? el('span', { className: 'required', text: 'required' }) : null, hint.length ? el('span', { className: 'hint', text: hint.join(' · ') }) : null]);
    label.title = title;
    var error = el('div', { className: 'field-error', id: 'error-' + name, role: 'alert' });
    var row = el('div', { className: 'field', 'data-field': name }, [label, control, schema.description ? el('div', { className: 'description', text: schema.description }) : null, error]);
    return { name: name, row: row, read: read, error: error };
  }

  function fieldError(name, message) {
    var e = new Error(message);
    e.field = name;
    return e;
  }

  function clearErrors() {
    fields.forEach(function (f) { f.error.textContent = ''; f.row.classList.remove('invalid'); });
    formError.textContent = '';
    errorBox.textContent = '';
    errorBox.hidden = true;
  }

  function showFieldError(name, message) {
    var field = fields.find(function (f) { return f.name === name; });
    if (!field) return false;
    field.error.textContent = field.error.textContent ? field.error.textContent + '; ' + message : message;
    field.row.classList.add('invalid');
    return true;
  }

  async function collectInput() {
    var input = {};
    for (var i = 0; i < fields.length; i++) {
      var value = await fields[i].read();
      if (value !== undefined) input[fields[i].name] = value;
    }
    return input;
  }

  // ---- output rendering ----

  var IMAGE = /^data:image\/|\.(png|jpe?g|gif|webp|avif|bmp|svg)(\?|#|$)/i;
  var AUDIO = /^data:audio\/|\.(wav|mp3|ogg|oga|flac|m4a|aac|opus)(\?|#|$)/i;
  var VIDEO = /^data:video\/|\.(mp4|webm|mov|mkv)(\?|#|$)/i;
  function isFileValue(value) { return typeof value === 'string' && /^(data:[^,]*,|https?:\/\/)/i.test(value); }

  var EXTENSIONS = { plain: 'txt', jpeg: 'jpg', mpeg: 'mp3', 'svg+xml': 'svg', 'octet-stream': 'bin', 'x-wav': 'wav' };

  /** A data URI carries no name: output[-index].<extension from its type>; a URL keeps its own. */
  function fileName(value, index) {
    var mime = /^data:([^;,]+)/.exec(value);
    if (mime) {
      var subtype = (mime[1].split('/')[1] || 'octet-stream').toLowerCase();
      return 'output' + (index === undefined ? '' : '-' + index) + '.' + (EXTENSIONS[subtype] || subtype.replace(/[^a-z0-9]/g, ''));
    }
    try { return decodeURIComponent(value.split(/[?#]/)[0].split('/').pop() || 'output'); } catch (e) { return 'output'; }
  }

  function renderValue(value, index) {
    if (isFileValue(value)) {
      if (IMAGE.test(value)) return el('img', { src: value, alt: 'output image', className: 'media' });
      if (AUDIO.test(value)) return el('audio', { src: value, controls: '', className: 'media' });
      if (VIDEO.test(value)) return el('video', { src: value, controls: '', className: 'media' });
      return el('a', { href: value, download: fileName(value, index), className: 'download', text: 'Download ' + fileName(value, index) });
    }
    if (typeof value === 'string') return el('pre', { className: 'text', text: value });
    if (Array.isArray(value) && value.some(isFileValue)) return el('div', { className: 'list' }, value.map(renderValue));
    if (value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).some(function (k) { return isFileValue(value[k]); })) {
      return el('div', { className: 'object' }, Object.keys(value).map(function (key) {
        return el('div', { className: 'entry' }, [el('div', { className: 'key', text: key }), renderValue(value[key])]);
      }));
    }
    return el('pre', { className: 'json', text: JSON.stringify(value, null, 2) });
  }

  var kind = 'single';
  var streamed = [];
  var textNode = null;
  var listNode = null;

  function resetOutput() {
    outputBox.textContent = '';
    logsBox.textContent = '';
    metricsBox.textContent = '';
    streamed = [];
    textNode = null;
    listNode = null;
  }

  function onChunk(chunk) {
    streamed.push(chunk);
    if (kind === 'concatenate' && typeof chunk === 'string') {
      if (!textNode) { textNode = el('pre', { className: 'text streaming' }); outputBox.textContent = ''; outputBox.appendChild(textNode); }
      textNode.textContent += chunk;
    } else if (kind === 'iterator') {
      if (!listNode) { listNode = el('ol', { className: 'items' }); outputBox.textContent = ''; outputBox.appendChild(listNode); }
      listNode.appendChild(el('li', {}, [renderValue(chunk, streamed.length - 1)]));
    } else {
      outputBox.textContent = '';
      outputBox.appendChild(renderValue(chunk));
    }
  }

  function renderFinal(prediction) {
    var output = prediction.output;
    if (output === undefined || output === null) {
      if (streamed.length === 0) outputBox.textContent = '';
      return;
    }
    // What streamed in is already on the page: keep it (no flicker, media not decoded twice).
    if (kind !== 'single' && Array.isArray(output) && output.length === streamed.length && streamed.length > 0) return;
    if (kind === 'concatenate' && Array.isArray(output) && output.every(function (c) { return typeof c === 'string'; })) {
      outputBox.textContent = '';
      outputBox.appendChild(el('pre', { className: 'text', text: output.join('') }));
    } else if (kind === 'iterator' && Array.isArray(output)) {
      outputBox.textContent = '';
      outputBox.appendChild(el('ol', { className: 'items' }, output.map(function (item, i) { return el('li', {}, [renderValue(item, i)]); })));
    } else {
      outputBox.textContent = '';
      outputBox.appendChild(renderValue(output));
    }
  }

  function seconds(from, to) {
    if (!from || !to) return undefined;
    return (Date.parse(to) - Date.parse(from)) / 1000;
  }

  function renderMetrics(prediction, wallMs) {
    metricsBox.textContent = '';
    var rows = [];
    var metrics = prediction.metrics || {};
    Object.keys(metrics).forEach(function (key) { rows.push([key, typeof metrics[key] === 'number' && key.endsWith('_time') ? metrics[key].toFixed(3) + ' s' : JSON.stringify(metrics[key])]); });
    var queued = seconds(prediction.created_at, prediction.started_at);
    if (queued !== undefined) rows.push(['queued', queued.toFixed(3) + ' s']);
    rows.push(['round trip', (wallMs / 1000).toFixed(3) + ' s']);
    rows.forEach(function (row) { metricsBox.appendChild(el('dt', { text: row[0] })); metricsBox.appendChild(el('dd', { text: row[1], 'data-metric': row[0] })); });
  }

  function setStatus(status) {
    statusBox.textContent = status;
    statusBox.className = 'status ' + status;
    document.body.setAttribute('data-status', status);
  }

  // ---- running ----

  async function run(event) {
    event.preventDefault();
    if (current) return;
    var abort = new AbortController();
    // Taken at once, before files are read: a second click does nothing, and the page's state
    // never shows the previous run's end.
    current = { id: null, abort: abort };
    runButton.disabled = true;
    clearErrors();
    setStatus('starting');
    var started = performance.now();
    var input;
    try {
      input = await collectInput();
    } catch (e) {
      if (!(e.field && showFieldError(e.field, e.message))) formError.textContent = e.message;
      setStatus('invalid');
      current = null;
      runButton.disabled = false;
      return;
    }
    resetOutput();
    cancelButton.disabled = false;
    try {
      var response = await fetch(endpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream' },
        body: JSON.stringify({ input: input }),
        signal: abort.signal,
      });
      if (response.status === 422) {
        var body = await response.json();
        (body.detail || []).forEach(function (d) {
          var loc = d.loc || [];
          var name = loc[0] === 'body' && loc[1] === 'input' ? loc[2] : loc[loc.length - 1];
          if (!showFieldError(String(name), d.msg)) formError.textContent += (formError.textContent ? '; ' : '') + loc.join('.') + ': ' + d.msg;
        });
        setStatus('invalid');
        return;
      }
      if (!response.ok || !response.body) {
        var text = await response.text();
        throw new Error('HTTP ' + response.status + ': ' + text);
      }
      await readEvents(response.body, started);
    } catch (e) {
      if (e.name !== 'AbortError') {
        errorBox.hidden = false;
        errorBox.textContent = e.message;
        setStatus('failed');
      }
    } finally {
      current = null;
      runButton.disabled = false;
      cancelButton.disabled = true;
    }
  }

  async function readEvents(body, started) {
    var reader = body.pipeThrough(new TextDecoderStream()).getReader();
    var buffer = '';
    for (;;) {
      var step = await reader.read();
      if (step.done) break;
      buffer += step.value;
      var end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        var frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        var name = 'message';
        var data = '';
        frame.split('\n').forEach(function (line) {
          if (line.startsWith('event: ')) name = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        });
        if (frame.startsWith(':') || data === '') continue;
        onEvent(name, JSON.parse(data), started);
      }
    }
  }

  function onEvent(name, data, started) {
    if (name === 'start') {
      current.id = data.id;
      document.body.setAttribute('data-prediction', data.id);
      setStatus(data.status || 'processing');
    } else if (name === 'output') {
      onChunk(data.chunk);
    } else if (name === 'log') {
      logsBox.textContent += data.data;
      logsBox.scrollTop = logsBox.scrollHeight;
    } else if (name === 'completed') {
      setStatus(data.status);
      renderFinal(data);
      if (typeof data.logs === 'string' && data.logs.length >= logsBox.textContent.length) logsBox.textContent = data.logs;
      renderMetrics(data, performance.now() - started);
      if (data.error) { errorBox.hidden = false; errorBox.textContent = data.error; }
    } else if (name === 'error') {
      errorBox.hidden = false;
      errorBox.textContent = data.error || JSON.stringify(data);
    }
  }

  async function cancel() {
    if (!current) return;
    cancelButton.disabled = true;
    if (current.id) {
      await fetch(endpoint + '/' + encodeURIComponent(current.id) + '/cancel', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    } else {
      // Not started yet: hanging up cancels it too.
      current.abort.abort();
      setStatus('canceled');
    }
  }

  async function main() {
    var doc;
    try {
      var response = await fetch('openapi.json');
      if (!response.ok) throw new Error('openapi.json: HTTP ' + response.status);
      doc = await response.json();
    } catch (e) {
      formError.textContent = 'Could not read the schema: ' + e.message;
      return;
    }
    schemas = (doc.components && doc.components.schemas) || {};
    var paths = doc.paths || {};
    var training = !paths['/predictions'] && paths['/trainings'];
    endpoint = training ? 'trainings' : 'predictions';
    var inputSchema = schemas[training ? 'TrainingInput' : 'Input'] || { properties: {} };
    outputSchema = resolve(schemas[training ? 'TrainingOutput' : 'Output'] || {});
    kind = outputSchema['x-cog-array-type'] === 'iterator' ? (outputSchema['x-cog-array-display'] === 'concatenate' ? 'concatenate' : 'iterator') : 'single';
    document.getElementById('kind').textContent = training ? 'training' : 'prediction';
    var required = inputSchema.required || [];
    var properties = inputSchema.properties || {};
    var names = Object.keys(properties).sort(function (a, b) {
      var x = properties[a]['x-order'];
      var y = properties[b]['x-order'];
      return (x === undefined ? 1e9 : x) - (y === undefined ? 1e9 : y);
    });
    fields = names.map(function (name) { return buildField(name, properties[name], required.indexOf(name) >= 0); });
    fields.forEach(function (f) { fieldsBox.appendChild(f.row); });
    if (fields.length === 0) fieldsBox.appendChild(el('p', { className: 'description', text: 'This model takes no input.' }));
    runButton.disabled = false;
    document.body.setAttribute('data-ready', 'true');
  }

  form.addEventListener('submit', run);
  cancelButton.addEventListener('click', cancel);
  void main();
})();
`;
