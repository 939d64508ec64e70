#!/usr/bin/env node
// Emotion of WAV files with a Ser model exported by `sertool export`, on onnxruntime-node: no .NET involved.
//
//   node predict.mjs model.onnx a.wav [b.wav ...]
//
// Prints the same JSON as `sertool predict --json`: { labels, results: [{ file, label, seconds, probabilities }] }
// (a file that cannot be read gets { file, error } and the exit code is 1). The WAV must be 16 kHz (the model's
// ser.sample_rate): this client does not resample. Channels are mixed down by their mean, integer PCM is scaled by
// 2^(bits-1) (8-bit: unsigned around 128), as the engine's WavReader does. The front end runs inside the model.
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';

// ---- metadata_props ----------------------------------------------------------------------------------------------
// onnxruntime-node does not expose a model's custom metadata, and the labels live there (ser.labels). This walks the
// protobuf wire format of the top-level ModelProto just far enough to read field 14 (metadata_props, repeated
// StringStringEntryProto { key = 1, value = 2 }); every other field is skipped by its wire type. Hand-written: a
// protobuf library would be the usual tool, but for three fields it would be the client's only other dependency.
function readVarint(buf, pos) {
  let value = 0n, shift = 0n;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated protobuf varint');
    const b = buf[pos++];
    value |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [value, pos];
    shift += 7n;
  }
}

function* fields(buf, start = 0, end = buf.length) {
  let pos = start;
  while (pos < end) {
    let key; [key, pos] = readVarint(buf, pos);
    const field = Number(key >> 3n), wire = Number(key & 7n);
    if (wire === 0) { let v; [v, pos] = readVarint(buf, pos); yield { field, wire, value: v }; }
    else if (wire === 1) { pos += 8; }
    else if (wire === 5) { pos += 4; }
    else if (wire === 2) {
      let len; [len, pos] = readVarint(buf, pos);
      const from = pos; pos += Number(len);
      if (pos > end) throw new Error('truncated protobuf field');
      yield { field, wire, start: from, end: pos };
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
}

export function modelMetadata(bytes) {
  const meta = {};
  for (const f of fields(bytes)) {
    if (f.field !== 14 || f.wire !== 2) continue;
    let key = '', value = '';
    for (const e of fields(bytes, f.start, f.end)) {
      if (e.wire !== 2) continue;
      const text = bytes.toString('utf8', e.start, e.end);
      if (e.field === 1) key = text; else if (e.field === 2) value = text;
    }
    meta[key] = value;
  }
  return meta;
}

// ---- WAV ---------------------------------------------------------------------------------------------------------
export function readWavMono(path) {
  const b = readFileSync(path);
  if (b.length < 12 || b.toString('ascii', 0, 4) !== 'RIFF' || b.toString('ascii', 8, 12) !== 'WAVE')
    throw new Error(`${path}: not a RIFF/WAVE file`);
  let fmt = null, data = null;
  for (let pos = 12; pos + 8 <= b.length;) {
    const id = b.toString('ascii', pos, pos + 4), size = b.readUInt32LE(pos + 4), body = pos + 8;
    const end = Math.min(body + size, b.length);
    if (id === 'fmt ') {
      let format = b.readUInt16LE(body);
      const bits = b.readUInt16LE(body + 14);
      if (format === 0xfffe && size >= 40) format = b.readUInt16LE(body + 24);   // WAVE_FORMAT_EXTENSIBLE sub-format
      fmt = { format, channels: b.readUInt16LE(body + 2), rate: b.readUInt32LE(body + 4), bits };
    } else if (id === 'data') data = [body, end];
    pos = body + size + (size & 1);
  }
  if (!fmt || !data) throw new Error(`${path}: no fmt or data chunk`);
  const { format, channels, rate, bits } = fmt, bytes = bits / 8;
  if (channels < 1) throw new Error(`${path}: no channels`);
  const frames = Math.floor((data[1] - data[0]) / (bytes * channels));
  const read = (() => {
    if (format === 1 && bits === 8) return o => (b.readUInt8(o) - 128) * (1 / 128);
    if (format === 1 && bits === 16) return o => b.readInt16LE(o) * (1 / 32768);
    if (format === 1 && bits === 24) return o => b.readIntLE(o, 3) * (1 / 8388608);
    if (format === 1 && bits === 32) return o => b.readInt32LE(o) / 2147483648;
    if (format === 3 && bits === 32) return o => b.readFloatLE(o);
    if (format === 3 && bits === 64) return o => b.readDoubleLE(o);
    throw new Error(`${path}: unsupported WAV encoding (format ${format}, ${bits} bits)`);
  })();
  // float32 arithmetic as the engine's mix-down: sum in float, times float(1 / channels)
  const mono = new Float32Array(frames), sum = new Float32Array(1), scale = Math.fround(1 / channels);
  for (let f = 0; f < frames; f++) {
    sum[0] = 0;
    for (let c = 0; c < channels; c++) sum[0] += Math.fround(read(data[0] + (f * channels + c) * bytes));
    mono[f] = channels === 1 ? sum[0] : Math.fround(sum[0] * scale);
  }
  return { samples: mono, rate };
}

// ---- main --------------------------------------------------------------------------------------------------------
async function main(argv) {
  if (argv.length < 2) {
    console.error('usage: node predict.mjs model.onnx a.wav [b.wav ...]');
    return 2;
  }
  const [modelPath, ...files] = argv;
  const meta = modelMetadata(readFileSync(modelPath));
  if (meta['ser.input'] !== 'pcm') throw new Error(`${modelPath}: not a pcm-input Ser model (ser.input = ${meta['ser.input']})`);
  const labels = meta['ser.labels'].split(',');
  const rate = Number(meta['ser.sample_rate']);
  const session = await ort.InferenceSession.create(modelPath);

  const results = [];
  let failed = false;
  for (const file of files) {
    try {
      const { samples, rate: fileRate } = readWavMono(file);
      if (fileRate !== rate) throw new Error(`${file}: sample rate ${fileRate} Hz; this client needs ${rate} Hz (resample first, or use sertool predict)`);
      if (samples.length === 0) throw new Error(`${file}: no audio samples`);
      const out = await session.run({ pcm: new ort.Tensor('float32', samples, [1, samples.length]) });
      const p = out.probs.data;
      let best = 0;
      for (let k = 1; k < p.length; k++) if (p[k] > p[best]) best = k;
      results.push({
        file, label: labels[best], seconds: samples.length / rate,
        probabilities: Object.fromEntries(labels.map((l, k) => [l, p[k]])),
      });
    } catch (e) {
      failed = true;
      console.error(`ser-onnx: error: ${e.message}`);
      results.push({ file, error: e.message });
    }
  }
  console.log(JSON.stringify({ labels, results }, null, 2));
  return failed ? 1 : 0;
}

main(process.argv.slice(2)).then(code => { process.exitCode = code; }, e => { console.error(`ser-onnx: error: ${e.message}`); process.exitCode = 1; });
