/*
 * Palisade's fencing contract as a Promela model, for the spin model checker.
 *
 * NC clients each take one lock ROUNDS times through the lock service, write once under it through
 * the network to the gateway, wait for the answer, and release. A holder may pause at any point:
 * LeaseExpiry may end the current holder's lease at any moment, after which another client can be
 * granted the lock with a higher token. Writes travel through the `net` channel, so they may be
 * delayed past the expiry of their writer's lease.
 *
 * The safety properties are stated by an Observer, outside the gateway's decision, on what an
 * observer of the system sees: the sequence of accepted writes, each with its writer, its token, and
 * the client that held the lock (by the lock service) when the write committed.
 *   1. every accepted write was made by the lock's holder at the moment it committed;
 *   2. the tokens of accepted writes never decrease.
 *
 * CHECK selects the gateway's commit-point check:
 *   2  Palisade's: the token is at least the highest recorded, and it is the live holder's;
 *   1  the token order only (no live-holder compare);
 *   0  none: the gateway accepts what it is sent.
 * spin proves both properties for every interleaving with CHECK=2 and finds a counterexample with
 * CHECK=1 (a write whose lease expired before anyone else wrote) and with CHECK=0 (the paused writer).
 *
 * Run: Protocol/model/check.sh (all three; it fails unless each result is as expected).
 */
#define NC 3
#define ROUNDS 2
#define NONE 255
#ifndef CHECK
#define CHECK 2
#endif

byte holder = NONE;     /* the client whose live lease holds the lock (the lock service's truth) */
byte issued = 0;        /* the last fencing token the lock service granted */
byte highest = 0;       /* the highest token the gateway recorded for the lock */

chan net = [NC] of { byte, byte };                  /* writes in flight: (client, token) */
chan answer[NC] = [1] of { bool };                  /* the gateway's answer to each client */
chan accepted = [NC * ROUNDS] of { byte, byte, byte }; /* accepted writes: (writer, token, holder at commit) */

active [NC] proctype Client() {
    byte me = _pid;
    byte token;
    byte round = 0;
    bool ok;
    do
    :: round < ROUNDS ->
        atomic { holder == NONE -> holder = me; issued++; token = issued };
        /* The client may pause here, or its write may be delayed in the network: LeaseExpiry can run. */
        net ! me, token;
        answer[me] ? ok;
        atomic { if :: holder == me -> holder = NONE :: else -> skip fi };
        round++
    :: else -> break
    od
}

/* A holder's lease runs out (its client paused past the TTL): the lock is free again. */
active proctype LeaseExpiry() {
end:
    do
    :: atomic { holder != NONE -> holder = NONE }
    od
}

/* The storage gateway: each write commits (or not) in one atomic step, its commit point. */
active proctype Gateway() {
    byte writer, token;
end:
    do
    :: net ? writer, token ->
        atomic {
            if
#if CHECK == 2
            :: token >= highest && holder == writer ->
#elif CHECK == 1
            :: token >= highest ->
#else
            :: true ->
#endif
                if :: token > highest -> highest = token :: else -> skip fi;
                accepted ! writer, token, holder;   /* what an observer sees, with the lock's holder now */
                answer[writer] ! true
            :: else ->
                answer[writer] ! false   /* StaleFencingToken or LockNotHeld: nothing changes */
            fi
        }
    od
}

/* The observer: reads the accepted writes in commit order and checks the properties on them. */
active proctype Observer() {
    byte writer, token, holderAtCommit;
    byte lastToken = 0;
end:
    do
    :: accepted ? writer, token, holderAtCommit ->
        assert(holderAtCommit == writer);   /* 1: only the holder's writes are accepted */
        assert(token >= lastToken);         /* 2: accepted tokens never decrease */
        lastToken = token
    od
}
