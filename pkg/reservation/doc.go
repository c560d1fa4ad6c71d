// Package reservation decides the gang reservation rounds of a KusciaTask.
//
// The stock kube-scheduler places pods one by one; this package makes the
// task's parties behave as a gang. It is pure: given the task's schedule
// configuration, the reservation state persisted in status, the pods of each
// party and the current time, Evaluate says what the controller must do next.
// The controller acts on the Decision (creates or deletes pods, writes status,
// schedules a timer with the workqueue's AddAfter) and nothing here talks to
// the API server or reads a clock of its own.
//
// # Counting
//
// A pod is reserved when it is bound to a node, not being deleted and not
// Failed (podstate.State.Reserved: the one classifier of pods). A party is reserved when at least minReservedPods
// of its pods are; the task is reserved when at least minReservedMembers
// parties are.
//
// # Rounds and timers
//
// A round starts when its pods are created (Create). Within a round:
//
//   - once the task is reserved, it may run (Reserved);
//   - the first time some party is reserved starts a timer
//     (status.reservation.firstReservedTime): if the task is still not
//     reserved resourceReservedSeconds later, the round is released
//     (Release): every pod is deleted so the reserved parties give their
//     nodes back;
//   - a party whose failed pods leave it fewer than minReservedPods
//     possible pods releases the round at once.
//
// Between rounds (status.reservation.releasedTime set) Evaluate answers
// Release while pods remain, then Wait until retryIntervalSeconds after the
// release, then Create the next round. Over all of this runs the lifecycle
// deadline, startTime + lifecycleSeconds: a task not reserved by then fails
// (Expire) with a message naming the parties that did not reserve and the
// scheduler's reasons. Every Wait carries RequeueAt, the next of these
// deadlines, for the controller's AddAfter.
//
// Times are whole seconds, as status stores them (now and startTime are
// truncated), so a controller that restarts and reads the state back from
// status makes the same decisions: Evaluate given the State it returned, the
// same pods and the same now returns the same Decision. Create is the one
// exception, as its effect (the round's pods) is what the next evaluation
// sees; a controller that persisted a new round and stopped before creating
// all its pods should create the missing pods of the round under way
// (releasedTime unset) on any sync, not only on Create.
//
// # A worked timeline
//
// Two parties with the default scheduleConfig (resourceReservedSeconds 30,
// lifecycleSeconds 300, retryIntervalSeconds 30); alice's pod is bound 1.4s
// after it is created, bob's never is ("0/2 nodes are available: 2
// Insufficient cpu."). Times are seconds after startTime; the test
// TestSimulateBobNeverSchedules checks this timeline.
//
//	  0    Create round 1                  Wait until 300 (nobody reserved)
//	  1.4  alice reserved: firstReservedTime 1 (whole seconds), Wait until 31
//	 31    Release round 1 (bob not reserved within 30s), Wait until 61
//	 61    Create round 2; alice reserved at 62.4 (62), Wait until 92
//	 92    Release round 2, Wait until 122
//	122    Create round 3; alice at 123.4 (123), Release at 153
//	183    Create round 4; alice at 184.4 (184), Release at 214
//	244    Create round 5; alice at 245.4 (245), Release at 275,
//	       Wait until 300 (the retry time 305 is past the deadline)
//	300    Expire: "parties [bob] did not reserve within 300s; last failure:
//	       round 5: parties [bob] did not reserve within 30s of the first
//	       reserved party: bob/task-0: 0/2 nodes are available: 2
//	       Insufficient cpu."
//
// Each round thus lasts 61s here: 1s until alice reserves, 30s of holding,
// 30s of retry interval.
package reservation
