// Package controller wires the KusciaTask controller: informers feed a
// rate-limited workqueue of task names, workers run the phase handlers of
// each task, and the pure builder, reservation and status packages decide
// what to create, delete and report.
package controller

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	coreinformers "k8s.io/client-go/informers/core/v1"
	schedulinginformers "k8s.io/client-go/informers/scheduling/v1beta1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"kusciatask.io/controller/pkg/builder"
	"kusciatask.io/controller/pkg/controller/informers"
	"kusciatask.io/controller/pkg/controller/metrics"
	"kusciatask.io/controller/pkg/generated/clientset/versioned"
	kusciainformers "kusciatask.io/controller/pkg/generated/informers/externalversions/kuscia/v1alpha1"
	kuscialisters "kusciatask.io/controller/pkg/generated/listers/kuscia/v1alpha1"
	"kusciatask.io/controller/pkg/mark"
)

// ControllerName is the field manager of the controller's writes and the
// source of its events.
const ControllerName = "kusciatask-controller"

// Controller reconciles KusciaTasks.
type Controller struct {
	// kubeClient creates and deletes the parties' pods, services and config
	// maps; kusciaClient writes task status.
	kubeClient   kubernetes.Interface
	kusciaClient versioned.Interface
	// gateClient opens the gates of reserved pods (see Options.GateClient).
	gateClient kubernetes.Interface

	// tasks reads tasks from the informer cache, or as this controller
	// last wrote them when that is newer (a mutation cache): a sync never
	// acts on a status older than its own writes, and writes with the
	// latest resourceVersion instead of running into conflicts.
	tasks cache.MutationCache
	// expectations hold a task's syncs until the informers show the
	// children its last sync created and deleted.
	expectations *expectations

	// Listers read the informer caches; objects from them are shared and
	// never mutated.
	appImageLister  kuscialisters.AppImageLister
	namespaceLister corelisters.NamespaceLister
	// Children are found through the task-UID indexes of these informers,
	// so a lookup never scans other tasks' objects or other namespaces.
	podIndexer       cache.Indexer
	serviceIndexer   cache.Indexer
	configMapIndexer cache.Indexer
	taskIndexer      cache.Indexer
	// podGroupIndexer is nil unless the controller uses PodGroups.
	podGroupIndexer cache.Indexer
	// synced reports whether every informer has filled its cache.
	synced []cache.InformerSynced

	// queue holds the names of tasks to sync; AddAfter carries the timers of
	// reservation rounds. lanes orders it: a task whose children changed
	// goes before tasks waiting to be created (see enqueueOwner).
	queue workqueue.TypedRateLimitingInterface[cache.ObjectName]
	lanes *lanes
	// rateLimiter is the queue's: retry calls it to know when a retry is
	// due. causes gathers why each queued task was queued, for
	// kusciatask_syncs_by_cause_total.
	rateLimiter workqueue.TypedRateLimiter[cache.ObjectName]
	causes      *syncCauses
	// ownWrites are the resourceVersions of this controller's last status
	// write of each task whose echo the informer has not shown yet.
	ownWrites *ownWrites
	// recorder records the Events of task transitions.
	recorder record.EventRecorder
	// marker marks the pods the controller creates and recognises them:
	// only a pod with its mark counts for a task (see package mark).
	marker *mark.Marker
	// foreignSeen remembers the foreign pods already told in an Event.
	foreignSeen *foreignPods
	// outage counts the tasks waiting for an unreachable API server, so
	// an outage is logged once per interval, not once per task.
	outage *outage
	// clock is injected so tests control time.
	clock clock.PassiveClock
	// metrics observes syncs; nil-safe.
	metrics *metrics.Metrics
	// phases counts the cached tasks by phase, for kusciatask_tasks.
	phases *metrics.PhaseCounts
	// policy is what the operator lets tasks do (pod security level,
	// size bounds); the builder applies it.
	policy builder.Policy
	// createChunk bounds the objects one sync creates; maxCreateBatch
	// bounds the creates it has in flight at once.
	createChunk    int
	maxCreateBatch int
	// held are statuses computed but not written yet; statusBatchDelay is
	// how long a status that may wait is held (0: never).
	held             *heldStatuses
	statusBatchDelay time.Duration
}

// Informers are the informers the controller reads from. The pod, service
// and config map informers may be filtered to objects carrying the
// kuscia.secretflow/task-uid label (see informers.NewChildInformerFactory).
// NewController sets an informers.Trimmer as the transform of each: their caches hold only what the controller reads, so
// they must not be shared with code that reads more, and must not have
// been started.
type Informers struct {
	Tasks      kusciainformers.KusciaTaskInformer
	AppImages  kusciainformers.AppImageInformer
	Namespaces coreinformers.NamespaceInformer
	Pods       coreinformers.PodInformer
	Services   coreinformers.ServiceInformer
	ConfigMaps coreinformers.ConfigMapInformer
	// PodGroups is set only when the controller uses PodGroups (see
	// package podgroup: the API is served and --pod-groups allows it);
	// each party then gets one.
	PodGroups schedulinginformers.PodGroupInformer
}

// Options tune a controller; zero values take defaults.
type Options struct {
	// Clock defaults to the real clock.
	Clock clock.PassiveClock
	// Recorder defaults to nothing being recorded.
	Recorder record.EventRecorder
	// RateLimiter defaults to client-go's controller rate limiter.
	RateLimiter workqueue.TypedRateLimiter[cache.ObjectName]
	// Metrics defaults to no metrics.
	Metrics *metrics.Metrics
	// ExpectationsTimeout defaults to DefaultExpectationsTimeout.
	ExpectationsTimeout time.Duration
	// Policy bounds what tasks may do; zero fields take the builder's
	// defaults.
	Policy builder.Policy
	// CreateChunk bounds the objects one sync creates; defaults to
	// DefaultCreateChunk. A larger task is created over several syncs.
	CreateChunk int
	// MaxCreateBatch bounds the creates one sync has in flight at once;
	// defaults to DefaultMaxCreateBatch. 1 creates one object at a time,
	// in order.
	MaxCreateBatch int
	// GateClient opens the gates of reserved pods; defaults to the kube
	// client. The binary gives it a rate limiter of its own: a gang that
	// formed holds its nodes idle until its gates open, so opening them
	// must not queue behind other tasks' creates.
	GateClient kubernetes.Interface
	// MarkKey is the secret the controller marks its pods with (see
	// package mark); required. The binary reads it from a Secret
	// (mark.LoadOrCreateKey); tests pass any KeySize bytes.
	MarkKey []byte
	// StatusBatchDelay is how long a status change that may wait is held
	// before it is written (see DefaultStatusBatchDelay); 0 writes every
	// change at once.
	StatusBatchDelay time.Duration
}

// DefaultCreateChunk is how many objects one sync creates at most: a large
// task is created in chunks, so it never holds a worker for long and other
// tasks get their turn in between.
const DefaultCreateChunk = 100

// taskMutationCacheSize bounds how many written tasks the mutation cache
// remembers; entries leave it once the informer has caught up.
const taskMutationCacheSize = 4096

// NewController builds a controller and registers its event handlers and
// indexes on the informers. Start the informers, then call Run.
func NewController(ctx context.Context, kubeClient kubernetes.Interface, kusciaClient versioned.Interface, inf Informers, opts Options) (*Controller, error) {
	opts = opts.withDefaults(kubeClient)
	marker, err := mark.New(opts.MarkKey)
	if err != nil {
		return nil, fmt.Errorf("options: %w", err)
	}
	lanes := newLanes()
	c := &Controller{
		kubeClient:   kubeClient,
		kusciaClient: kusciaClient,
		gateClient:   opts.GateClient,
		tasks: cache.NewIntegerResourceVersionMutationCacheWithOptions(klog.FromContext(ctx), inf.Tasks.Informer().GetStore(),
			cache.MutationCacheOptions{MaxCacheSize: taskMutationCacheSize}),
		expectations:     newExpectations(opts.Clock, opts.ExpectationsTimeout),
		appImageLister:   inf.AppImages.Lister(),
		namespaceLister:  inf.Namespaces.Lister(),
		podIndexer:       inf.Pods.Informer().GetIndexer(),
		serviceIndexer:   inf.Services.Informer().GetIndexer(),
		configMapIndexer: inf.ConfigMaps.Informer().GetIndexer(),
		taskIndexer:      inf.Tasks.Informer().GetIndexer(),
		lanes:            lanes,
		queue:            newQueue(opts.RateLimiter, lanes),
		rateLimiter:      opts.RateLimiter,
		causes:           newSyncCauses(),
		ownWrites:        newOwnWrites(),
		recorder:         opts.Recorder,
		marker:           marker,
		foreignSeen:      newForeignPods(foreignPodsRemembered),
		outage:           newOutage(opts.Clock),
		clock:            opts.Clock,
		metrics:          opts.Metrics,
		phases:           metrics.NewPhaseCounts(),
		policy:           opts.Policy,
		createChunk:      opts.CreateChunk,
		maxCreateBatch:   opts.MaxCreateBatch,
		held:             newHeldStatuses(),
		statusBatchDelay: opts.StatusBatchDelay,
	}
	c.policy.PodGroups = inf.PodGroups != nil
	if inf.PodGroups != nil {
		c.podGroupIndexer = inf.PodGroups.Informer().GetIndexer()
	}
	if err := c.registerInformers(ctx, inf); err != nil {
		return nil, err
	}
	return c, nil
}

// withDefaults is o with each zero value that has a default set to it.
func (o Options) withDefaults(kubeClient kubernetes.Interface) Options {
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Recorder == nil {
		o.Recorder = &record.FakeRecorder{}
	}
	if o.RateLimiter == nil {
		o.RateLimiter = workqueue.DefaultTypedControllerRateLimiter[cache.ObjectName]()
	}
	if o.ExpectationsTimeout == 0 {
		o.ExpectationsTimeout = DefaultExpectationsTimeout
	}
	if o.GateClient == nil {
		o.GateClient = kubeClient
	}
	if o.CreateChunk < 1 {
		o.CreateChunk = DefaultCreateChunk
	}
	if o.MaxCreateBatch < 1 {
		o.MaxCreateBatch = DefaultMaxCreateBatch
	}
	return o
}

// newQueue is a rate-limited, delaying workqueue over lanes.
func newQueue(limiter workqueue.TypedRateLimiter[cache.ObjectName], l *lanes) workqueue.TypedRateLimitingInterface[cache.ObjectName] {
	q := workqueue.NewTypedWithConfig(workqueue.TypedQueueConfig[cache.ObjectName]{Name: ControllerName, Queue: l})
	delaying := workqueue.NewTypedDelayingQueueWithConfig(workqueue.TypedDelayingQueueConfig[cache.ObjectName]{
		Name: ControllerName, Queue: q})
	return workqueue.NewTypedRateLimitingQueueWithConfig(limiter,
		workqueue.TypedRateLimitingQueueConfig[cache.ObjectName]{Name: ControllerName, DelayingQueue: delaying})
}

func (c *Controller) registerInformers(ctx context.Context, inf Informers) error {
	logger := klog.FromContext(ctx)
	childHandler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.enqueueOwnerAdded(logger, obj) },
		UpdateFunc: func(old, obj any) { c.enqueueOwnerIfChanged(logger, old, obj) },
		DeleteFunc: func(obj any) { c.observeDeleted(obj); c.enqueueOwner(logger, obj) },
	}
	// Task updates are never skipped: a periodic resync of the tasks is the
	// safety net that catches anything an event missed.
	taskHandler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.phases.Move(nil, obj); c.observeTask(obj); c.enqueueTask(obj, causeTask) },
		UpdateFunc: func(old, obj any) { c.phases.Move(old, obj); c.observeTask(obj); c.enqueueTaskUpdate(logger, old, obj) },
		DeleteFunc: func(obj any) {
			c.phases.Move(obj, nil)
			c.observeTaskDeleted(obj)
			c.forgetOwnWrite(obj)
			c.enqueueTask(obj, causeTask)
		},
	}
	refHandler := func(index string) cache.ResourceEventHandlerFuncs {
		return cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { c.enqueueReferrers(index, obj) },
			UpdateFunc: func(old, obj any) { c.enqueueReferrersIfChanged(index, old, obj) },
		}
	}
	type registration struct {
		informer cache.SharedIndexInformer
		indexers cache.Indexers
		handler  cache.ResourceEventHandler
	}
	regs := []registration{
		{inf.Tasks.Informer(), informers.TaskIndexers(), taskHandler},
		{inf.AppImages.Informer(), nil, refHandler(informers.IndexByAppImage)},
		{inf.Namespaces.Informer(), nil, refHandler(informers.IndexByDomain)},
		{inf.Pods.Informer(), informers.ChildIndexers(), childHandler},
		{inf.Services.Informer(), informers.ChildIndexers(), childHandler},
		{inf.ConfigMaps.Informer(), informers.ChildIndexers(), childHandler},
	}
	if inf.PodGroups != nil {
		regs = append(regs, registration{inf.PodGroups.Informer(), informers.ChildIndexers(), childHandler})
	}
	trimmer := informers.NewTrimmer()
	for _, r := range regs {
		if err := r.informer.SetTransform(trimmer.Trim); err != nil {
			return fmt.Errorf("set the cache transform: %w", err)
		}
		if r.indexers != nil {
			if err := r.informer.AddIndexers(r.indexers); err != nil {
				return fmt.Errorf("add indexers: %w", err)
			}
		}
		reg, err := r.informer.AddEventHandler(r.handler)
		if err != nil {
			return fmt.Errorf("add event handler: %w", err)
		}
		c.synced = append(c.synced, reg.HasSynced)
	}
	return nil
}

// Run waits for the caches, starts workers and blocks until ctx is done,
// then drains the queue and waits for the workers to finish their item.
func (c *Controller) Run(ctx context.Context, workers int) error {
	defer utilruntime.HandleCrash()
	logger := klog.FromContext(ctx)
	logger.Info("Starting controller", "workers", workers)
	if !cache.WaitForNamedCacheSyncWithContext(ctx, c.synced...) {
		c.queue.ShutDown()
		return fmt.Errorf("caches did not sync before shutdown")
	}
	done := make(chan struct{})
	for range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			wait.UntilWithContext(ctx, c.runWorker, time.Second)
		}()
	}
	logger.Info("Started workers")
	<-ctx.Done()
	logger.Info("Shutting down workers")
	c.queue.ShutDownWithDrain()
	for range workers {
		<-done
	}
	return nil
}

func (c *Controller) runWorker(ctx context.Context) {
	for c.processNextWorkItem(ctx) {
	}
}

// processNextWorkItem is the only place that does queue bookkeeping.
func (c *Controller) processNextWorkItem(ctx context.Context) bool {
	key, shutdown := c.queue.Get()
	if shutdown {
		return false
	}
	defer c.queue.Done(key)
	logger := klog.LoggerWithValues(klog.FromContext(ctx), "kusciatask", key.Name)
	outer := ctx
	ctx = klog.NewContext(ctx, logger)
	start := c.clock.Now()
	causes := c.causes.take(key.Name, start)
	if c.causes.stale(key.Name, causes) {
		logger.V(5).Info("Timer no longer wanted; not synced")
		return true
	}
	c.metrics.ObserveSyncCauses(causes.names())
	result, err := c.syncHandler(ctx, key)
	took := c.clock.Since(start)
	c.metrics.ObserveSync(took, err)
	logger.V(4).Info("Synced", "took", took)
	switch {
	case apierrors.IsConflict(err):
		// Someone (often this controller's own earlier write, not yet in
		// the cache) changed the task: routine, not an error to page on.
		c.retry(key)
		logger.V(4).Info("Task changed meanwhile; requeued", "err", err)
	case unreachable(err):
		// Every task meets an outage alike: said once per interval, not
		// once per task per retry.
		c.retry(key)
		if logNow, n := c.outage.failed(key.Name); logNow {
			klog.FromContext(outer).Error(err, "API server unreachable; tasks waiting to retry", "tasks", n)
		}
		logger.V(4).Info("API server unreachable; requeued", "err", err)
	case err != nil:
		c.retry(key)
		logger.Error(err, "Sync failed; requeued", "retries", c.queue.NumRequeues(key))
	default:
		c.queue.Forget(key)
	}
	if !unreachable(err) && c.outage.synced(key.Name) {
		klog.FromContext(outer).Info("API server reachable again")
	}
	// A failed sync keeps its deadline too: backoff must not carry a task
	// past its lifecycleSeconds.
	c.causes.wantTimer(key.Name, result.requeue || result.requeueAfter > 0)
	switch {
	case result.requeue:
		c.causes.note(key.Name, causeTimer)
		c.queue.Add(key)
	case result.requeueAfter > 0:
		c.causes.noteAt(key.Name, causeTimer, c.clock.Now().Add(result.requeueAfter))
		c.queue.AddAfter(key, result.requeueAfter)
	}
	return true
}

// retry queues a failed sync again after the rate limiter's backoff, as
// the queue's AddRateLimited does (same limiter), noting when it is due.
func (c *Controller) retry(key cache.ObjectName) {
	after := c.rateLimiter.When(key)
	c.causes.noteAt(key.Name, causeRetry, c.clock.Now().Add(after))
	c.queue.AddAfter(key, after)
}

// syncResult tells the queue when to look at a task again without an event.
type syncResult struct {
	requeueAfter time.Duration
	// requeue: sync again as soon as a worker is free (a large task whose
	// creation goes on in the next chunk).
	requeue bool
}

// RegisterTaskPhaseCollector registers the kusciatask_tasks gauge (the
// tasks of the controller's cache by phase) on reg.
func (c *Controller) RegisterTaskPhaseCollector(reg prometheus.Registerer) {
	metrics.RegisterTaskPhases(reg, c.phases)
}

// HasSynced reports whether every informer cache has been filled; it backs
// the readiness probe.
func (c *Controller) HasSynced() bool {
	for _, synced := range c.synced {
		if !synced() {
			return false
		}
	}
	return true
}
