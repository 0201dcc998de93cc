// A tiny Lambda Runtime API on loopback, to measure what only the real
// process shows: init time (process start to the first poll for an
// invocation), the per-invocation time through the Lambda adapter (runtime
// client, JSON handling, response post) and the peak RSS.
//
//   node runtime-api.js BINARY REQUEST_FILE [--invocations N] [--callgrind OUT]
//
// Prints one JSON line:
//   {"init_ms":…,"invocations":…,"invoke_median_ms":…,"invoke_min_ms":…,
//    "billed_median_ms":…,"billed_min_ms":…,"cpu_ms_per_invoke":…,"peak_rss_mib":…,"ok":…,
//    "init_cpu_ms":…,"cold_cpu_ms":…,"warm_cpu_median_ms":…,"cold_over_warm_cpu_ms":…,
//    "cold_billed_ms":{"128":…,"512":…,"1769":…},
//    "init_minor_faults":…,"cold_minor_faults":…,"warm_minor_faults_median":…}
// init_ms runs from spawn() to the first GET …/invocation/next; invoke_*_ms
// from handing out an invocation (before this process writes the request) to
// receiving its response. billed_*_ms is the window Lambda bills: from the
// invocation's request delivered (its last byte handed to the socket, the
// response's 'finish') to the response received (its last byte read), so
// this process's own writing of the request is not in it, only what the
// function waits for. cpu_ms_per_invoke is the function process's CPU time
// (all its threads, from /proc/PID/task/*/schedstat) from the second
// invocation handed out to the last response, per invocation: what it
// spends warm, whatever this emulator spends (the first invocation also
// builds what is built on first use, such as the user-agent parser). peak_rss_mib is the process's VmHWM,
// read before it is stopped.
//
// The cold start, what a new execution environment pays: init_cpu_ms is
// the process's CPU time from spawn to its first poll, cold_cpu_ms from
// spawn to the end of the first invocation (read when it polls for the
// next one); warm_cpu_median_ms the median CPU time of the other
// invocations, each from its hand-out to the next poll; and
// cold_over_warm_cpu_ms what the cold start costs on top of a warm
// invocation of the same request. cold_billed_ms estimates what Lambda
// bills for init plus that first invocation at 128, 512 and 1,769 MB
// (docs/performance.md): a function gets memory / 1,769 MB of a vCPU, so
// CPU-bound work takes cold_cpu_ms × 1769 / memory, rounded up to the
// millisecond, never less than cold_cpu_ms. The *_minor_faults are the
// process's minor page faults at the same points (init, init plus the
// first invocation, and the median warm invocation): each is a fresh page
// the kernel zeroes and maps, most of what a cold invocation of a large
// request pays over a warm one, which reuses its memory.
//
// With --callgrind OUT the function runs under valgrind's callgrind
// (written to OUT) for one invocation, or --invocations N, and is stopped
// when it polls for the next: "instructions" is then the instruction count
// of init plus the first invocation (user space; times and CPU under
// valgrind mean nothing); twice the count with 1 less the count with 2 is
// what the first invocation costs over a warm one.
//
// Every socket is set to TCP_NODELAY, as the real Runtime API's are:
// without it a small response can wait for the peer's delayed ACK (about
// 40 ms on Linux) and the figures measure that, not the function.
'use strict';

const http = require('http');
const fs = require('fs');
const { spawn } = require('child_process');

const [binary, requestFile, ...rest] = process.argv.slice(2);
if (!binary || !requestFile) {
  console.error('usage: node runtime-api.js BINARY REQUEST_FILE [--invocations N]');
  process.exit(2);
}
const option = (name) => {
  const i = rest.indexOf(name);
  return i >= 0 ? rest[i + 1] : undefined;
};
const callgrindOut = option('--callgrind');
const invocations = parseInt(option('--invocations') ?? (callgrindOut ? '1' : '20'), 10);
const request = fs.readFileSync(requestFile);

let spawnedAt = 0n;
let initMs = null;
let handedOutAt = 0n;
let deliveredAt = 0n;
let cpuAtStart = null;
let cpuAtEnd = null;
let served = 0;
// The last response's body, counted once the process is stopped: parsing
// 6 MB of JSON after every invocation took this process longer than the
// function takes for the batch, CPU the function then competes with.
let lastBody = null;
const times = [];
const billed = [];
// The process's CPU time (ns) at each poll for an invocation: the first is
// init, each next one ends an invocation.
const cpuAtPoll = [];
const faultsAtPoll = [];
let child = null;
// A poll that arrives while there is nothing left to hand out is kept open,
// as the real Runtime API does, until the process is stopped.
const waiting = [];

function peakRssMib(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = status.match(/VmHWM:\s+(\d+) kB/);
    return m ? Math.round((Number(m[1]) / 1024) * 10) / 10 : null;
  } catch (e) {
    return null;
  }
}

// The CPU time of all the process's threads, in ns.
function cpuNs(pid) {
  try {
    let total = 0;
    for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
      total += Number(fs.readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    }
    return total;
  } catch (e) {
    return null;
  }
}

// The process's minor page faults so far (/proc/PID/stat's 10th field):
// each is a fresh page the kernel zeroes and maps, the cost a new process
// pays that a warm one, reusing its memory, does not.
function minorFaults(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[7]);
  } catch (e) {
    return null;
  }
}

const median = (xs) => (xs.length ? xs[Math.floor(xs.length / 2)] : null);

let finished = false;
function finish() {
  finished = true;
  const rss = peakRssMib(child.pid);
  if (callgrindOut) {
    // valgrind writes the profile when the process ends on the signal.
    child.on('exit', () => report(rss, instructionsOf(callgrindOut)));
    child.kill('SIGTERM');
    return;
  }
  child.kill('SIGTERM');
  report(rss, null);
}

// callgrind's total instruction count ("summary:" line), or null.
function instructionsOf(file) {
  try {
    const m = fs.readFileSync(file, 'utf8').match(/^summary: (\d+)/m);
    return m ? Number(m[1]) : null;
  } catch (e) {
    return null;
  }
}

function report(rss, instructions) {
  times.sort((a, b) => a - b);
  billed.sort((a, b) => a - b);
  const cpu = cpuAtStart !== null && cpuAtEnd !== null && times.length > 1
    ? (cpuAtEnd - cpuAtStart) / 1e6 / (times.length - 1) : null;
  const ms = (ns) => Math.round(ns / 1e3) / 1e3;
  const known = cpuAtPoll.every((c) => c !== null);
  const initCpu = known && cpuAtPoll.length > 0 ? ms(cpuAtPoll[0]) : null;
  const coldCpu = known && cpuAtPoll.length > 1 ? ms(cpuAtPoll[1]) : null;
  const warm = [];
  for (let i = 2; known && i < cpuAtPoll.length; i += 1) warm.push(cpuAtPoll[i] - cpuAtPoll[i - 1]);
  warm.sort((a, b) => a - b);
  const warmCpu = warm.length ? ms(median(warm)) : null;
  const faultsKnown = faultsAtPoll.length > 1 && faultsAtPoll.every((f) => f !== null);
  const warmFaults = [];
  for (let i = 2; faultsKnown && i < faultsAtPoll.length; i += 1) warmFaults.push(faultsAtPoll[i] - faultsAtPoll[i - 1]);
  warmFaults.sort((a, b) => a - b);
  const coldBilled = {};
  for (const mb of [128, 512, 1769]) {
    coldBilled[mb] = coldCpu === null ? null : Math.ceil(coldCpu * Math.max(1, 1769 / mb));
  }
  console.log(
    JSON.stringify({
      init_ms: initMs,
      invocations: times.length,
      invoke_median_ms: median(times),
      invoke_min_ms: times.length ? times[0] : null,
      billed_median_ms: median(billed),
      billed_min_ms: billed.length ? billed[0] : null,
      cpu_ms_per_invoke: cpu,
      peak_rss_mib: rss,
      ok: lastBody ? JSON.parse(lastBody.toString('utf8')).records.filter((r) => r.result === 'Ok').length : 0,
      init_cpu_ms: initCpu,
      cold_cpu_ms: coldCpu,
      warm_cpu_median_ms: warmCpu,
      cold_over_warm_cpu_ms: coldCpu !== null && warmCpu !== null ? ms((coldCpu - warmCpu) * 1e6) : null,
      cold_billed_ms: coldBilled,
      init_minor_faults: faultsKnown ? faultsAtPoll[0] : null,
      cold_minor_faults: faultsKnown ? faultsAtPoll[1] : null,
      warm_minor_faults_median: warmFaults.length ? median(warmFaults) : null,
      ...(callgrindOut ? { instructions } : {}),
    }),
  );
  server.close();
  for (const res of waiting) res.destroy();
}

const server = http.createServer({ noDelay: true }, (req, res) => {
  const now = process.hrtime.bigint();
  if (req.method === 'GET' && req.url === '/2018-06-01/runtime/invocation/next') {
    if (initMs === null) initMs = Number(now - spawnedAt) / 1e6;
    if (!callgrindOut) {
      cpuAtPoll.push(cpuNs(child.pid));
      faultsAtPoll.push(minorFaults(child.pid));
    }
    if (served >= invocations) {
      waiting.push(res);
      finish();
      return;
    }
    served += 1;
    if (served === 2) cpuAtStart = cpuNs(child.pid);
    handedOutAt = process.hrtime.bigint();
    res.on('finish', () => {
      deliveredAt = process.hrtime.bigint();
    });
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Lambda-Runtime-Aws-Request-Id': `req-${served}`,
      'Lambda-Runtime-Deadline-Ms': String(Date.now() + 300000),
      'Lambda-Runtime-Invoked-Function-Arn': 'arn:aws:lambda:eu-central-1:123456789012:function:firehose-enricher',
      'Lambda-Runtime-Trace-Id': 'Root=1-00000000-000000000000000000000000',
    });
    res.end(request);
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const done = process.hrtime.bigint();
    if (/\/invocation\/[^/]+\/response$/.test(req.url)) {
      times.push(Number(done - handedOutAt) / 1e6);
      billed.push(Number(done - deliveredAt) / 1e6);
      cpuAtEnd = cpuNs(child.pid);
      lastBody = Buffer.concat(chunks);
    } else {
      console.error(`unexpected ${req.method} ${req.url}: ${Buffer.concat(chunks).toString('utf8').slice(0, 300)}`);
    }
    res.writeHead(202, { 'Content-Type': 'application/json' });
    res.end('{"status":"OK"}');
  });
});

// TCP_NODELAY on every accepted socket (noDelay above asks the same of
// Node; set here too, so that it holds whatever Node's default).
server.on('connection', (socket) => socket.setNoDelay(true));
// Keep idle connections open, as the Runtime API does: Node closes them
// after 5 s by default, and a function slowed down by callgrind then polls
// on a closed connection.
server.keepAliveTimeout = 0;

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  spawnedAt = process.hrtime.bigint();
  const [command, args] = callgrindOut
    ? ['valgrind', ['-q', '--tool=callgrind', `--callgrind-out-file=${callgrindOut}`, binary]]
    : [binary, []];
  child = spawn(command, args, {
    env: {
      ...process.env,
      AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${port}`,
      AWS_LAMBDA_FUNCTION_NAME: 'firehose-enricher',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '128',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_LOG_LEVEL: 'WARN',
      // A local measurement never calls AWS: overflow fails, as invoke
      // reports it, instead of being re-sent to a stream.
      REINGEST_OVERFLOW: 'false',
    },
    // Under callgrind the process is stopped by a signal mid-poll, and its
    // complaint about the poll is noise.
    stdio: ['ignore', 'ignore', callgrindOut ? 'ignore' : 'inherit'],
  });
  child.on('exit', (code, signal) => {
    if (callgrindOut && !finished) {
      // Ended before its next poll: its profile is written all the same.
      finished = true;
      report(null, instructionsOf(callgrindOut));
      return;
    }
    if (served < invocations && signal === null) {
      console.error(`the function exited early with code ${code}`);
      process.exit(1);
    }
  });
});
