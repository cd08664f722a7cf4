package sdk

// TakeCounters claims the counters' increments as an answer would.
var TakeCounters = (*Counters).take
