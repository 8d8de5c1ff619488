"""The level-2 case desk: cases, conversations by mail and phone, SLA, macros, queues."""
