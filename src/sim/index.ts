/** The deterministic Raft simulation: public surface. */
export { main, parseSimArgs, replayCommand, formatViolation, runFlags, type SimCliOptions } from './cli.js';
export {
  runSimulation,
  idleTraffic,
  tuningForSeed,
  IDLE_WINDOWS,
  IDLE_SETTLE,
  type IdleTrafficOptions,
  ELECTION_TICK,
  LIVENESS_BOUND,
  LIVENESS_CAP,
  CALM_TICKS,
  type SimOptions,
  type SimResult,
  type SimStats,
  type SimMutations,
  type SimViolationReport,
} from './simulation.js';
export {
  randomSchedule,
  randomFault,
  randomLinkFaults,
  describeFault,
  type FaultEvent,
  type FaultTarget,
  type CrashPoint,
  type ClockRate,
  type PartitionShape,
  type ScheduleOptions,
} from './faults.js';
export {
  AsyncDisk,
  DEFAULT_DISK_LATENCY,
  DEFAULT_MAX_OUTSTANDING,
  emptyAsyncDiskStats,
  type AsyncDiskOptions,
  type AsyncDiskStats,
  type DiskLatency,
  type PendingWrite,
} from './async-disk.js';
export { InvariantChecker, SimViolation } from './invariants.js';
export { SimNetwork, HEALTHY_LINKS, LONG_DELAY, type LinkFaults, type NetworkStats } from './network.js';
export { SimNode, type SimDisk, type RaftCoreFactory, type NodeObserver, type RaftTuning, type CompactionPolicy } from './sim-node.js';
export { KvStateMachine, encodeCommand, decodeCommand, hashBytes, type KvCommand, type ApplyOutcome } from './kv.js';
export { ClientWorkload, type ClientOptions, type ClientMutations, type ClientCluster } from './clients.js';
export { realCore, MemoryDisk } from './core.js';
export { NodeLiveness, type LivenessHooks } from './liveness.js';
export { Trace, formatMessage } from './trace.js';
