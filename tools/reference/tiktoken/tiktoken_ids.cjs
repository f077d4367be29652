// The reference for the bpe tokenizer's exactness test (tests/plugins/contract_tokenizer_bpe_tiktoken.cpp):
// the npm `tiktoken` package, the WASM build of OpenAI's tiktoken, installed beside this file by
// `npm ci` (package.json, package-lock.json; tools/install-deps.sh does it for CI).
//
//   node tiktoken_ids.cjs ids ENCODING TEXT_FILE IDS_FILE
//     encodes the UTF-8 text of TEXT_FILE with ENCODING (gpt2, cl100k_base) as ordinary text
//     (special tokens are text) and writes the ids as little-endian uint32;
//   node tiktoken_ids.cjs time ENCODING TEXT_FILE REPS
//     prints the median seconds of REPS encodings of TEXT_FILE and the number of ids (for
//     tools/bench/bpe.cpp: tiktoken is one thread);
//   node tiktoken_ids.cjs nanolab ENCODING OUT_FILE
//     writes ENCODING's ranks as a nanolab bpe saved tokenizer (docs/tokenizers.md) with the
//     `gpt4` pattern: byte b is the rank of its one-byte token, and each longer token is the merge
//     of the two parts tiktoken's byte-pair merge makes of it from the lower ranks.
"use strict";
const fs = require("fs");
const path = require("path");
const tiktoken = require(path.join(__dirname, "node_modules", "tiktoken"));

function ranks(encoding) {
  const data = require(path.join(__dirname, "node_modules", "tiktoken", "encoders", encoding + ".json"));
  const fields = data.bpe_ranks.split(" ");
  if (fields[0] !== "!") throw new Error("unexpected bpe_ranks layout in " + encoding);
  const byRank = [];
  let rank = Number(fields[1]);
  for (const b64 of fields.slice(2)) byRank[rank++] = Buffer.from(b64, "base64");
  return byRank;
}

// tiktoken's byte-pair merge of `bytes` with the ranks below `below`: the parts left.
function parts(bytes, rankOf, below) {
  let pieces = Array.from(bytes, (b) => Buffer.from([b]));
  for (;;) {
    let best = -1, bestRank = below;
    for (let i = 0; i + 1 < pieces.length; ++i) {
      const r = rankOf.get(Buffer.concat([pieces[i], pieces[i + 1]]).toString("latin1"));
      if (r !== undefined && r < bestRank) { bestRank = r; best = i; }
    }
    if (best < 0) return pieces;
    pieces.splice(best, 2, Buffer.concat([pieces[best], pieces[best + 1]]));
  }
}

function nanolabTokenizer(encoding) {
  const byRank = ranks(encoding);
  const rankOf = new Map(byRank.map((bytes, r) => [bytes.toString("latin1"), r]));
  const byteId = [];
  for (let b = 0; b < 256; ++b) byteId.push(rankOf.get(Buffer.from([b]).toString("latin1")));
  const merges = [];
  byRank.forEach((bytes, r) => {
    if (bytes.length < 2) return;
    const p = parts(bytes, rankOf, r);
    if (p.length !== 2) throw new Error("token " + r + " is not the merge of two lower tokens");
    merges.push([rankOf.get(p[0].toString("latin1")), rankOf.get(p[1].toString("latin1")), r]);
  });
  const pattern = "'(?i:[sdmt]|ll|ve|re)|[^\\r\\n\\p{L}\\p{N}]?+\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]++[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+";
  let out = "nanolab-tokenizer bpe 1\npattern " + Buffer.from(pattern).toString("hex") +
            "\non_special raise\nbytes " + byteId.join(" ") + "\nmerges " + merges.length + "\n";
  for (const m of merges) out += m.join(" ") + "\n";
  return out + "special 0\nend\n";
}

const [mode, encoding, a, b] = process.argv.slice(2);
if (mode === "ids") {
  const enc = tiktoken.get_encoding(encoding);
  const ids = enc.encode(fs.readFileSync(a, "utf8"), [], []);
  fs.writeFileSync(b, Buffer.from(Uint32Array.from(ids).buffer));
  enc.free();
} else if (mode === "time") {
  const enc = tiktoken.get_encoding(encoding);
  const text = fs.readFileSync(a, "utf8");
  const seconds = [];
  let n = 0;
  for (let r = 0; r < Number(b); ++r) {
    const start = process.hrtime.bigint();
    n = enc.encode(text, [], []).length;
    seconds.push(Number(process.hrtime.bigint() - start) / 1e9);
  }
  seconds.sort((x, y) => x - y);
  process.stdout.write(seconds[Math.floor(seconds.length / 2)] + " " + n + "\n");
  enc.free();
} else if (mode === "nanolab") {
  fs.writeFileSync(a, nanolabTokenizer(encoding));
} else {
  process.stderr.write("usage: node tiktoken_ids.cjs ids ENCODING TEXT_FILE IDS_FILE | time ENCODING TEXT_FILE REPS | nanolab ENCODING OUT_FILE\n");
  process.exit(2);
}
