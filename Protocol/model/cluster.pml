/*
 * Cluster mode's fencing (Protocol/cluster.md) as a Promela model, for the spin model checker.
 *
 * Two stateless gateways commit writes through one linearizable store (etcd): a read returns a
 * snapshot; a transaction applies its puts only if all its compares hold, in one atomic step.
 * NC (2) clients each take the lock ROUNDS (2) times (a grant is a store transaction; its revision
 * is the token), send one fenced write to either gateway, wait for its answer, and release; each
 * round under a fresh lease.
 *
 *   - A lease may end at any moment (LeaseExpiry). As in cluster mode, the holding outlives its
 *     lease until the next acquirer clears it, so only the lease record says the holder is gone.
 *   - A gateway reads a snapshot, decides on it (the token is at least the highest recorded, and is
 *     the live holder's), and commits with a transaction. It may pause for any time between the two
 *     (other processes run meanwhile), and it may crash between them: the write is then never
 *     committed and its client hears only that the outcome is unknown.
 *   - A transaction whose compares fail reads again and decides again.
 *
 * The Observer checks, on the accepted writes in commit order, with the holder (a holding whose
 * lease is alive) at the moment of each commit:
 *   1. every accepted write was made by the lock's live holder when it committed;
 *   2. the tokens of accepted writes never decrease.
 *
 * COMPARES selects what the commit transaction compares:
 *   2  Palisade's: the highest-token key is unchanged since the read, and the holding with the
 *      write's token exists with its lease record alive;
 *   1  the highest-token key only (the holder compare left out);
 *   0  nothing: the decision was made on the snapshot alone.
 * spin proves both properties for every interleaving with COMPARES=2 and finds counterexamples
 * with 1 (a lease that ended between the gateway's read and its commit) and with 0.
 *
 * Run: Protocol/model/check.sh (it fails unless each result is as expected).
 */
#define NC 2
#define ROUNDS 2
#define NG 2
#define NONE 255
#define REFUSED 0
#define COMMITTED 1
#define UNKNOWN 2
#ifndef COMPARES
#define COMPARES 2
#endif

/* The store (etcd). */
byte revision = 0;      /* the store's revision: each transaction that writes advances it */
byte holder = NONE;     /* lk/LOCK/h/LEASE: the holding's client ... */
byte holding = 0;       /* ... and its create revision, the fencing token */
bool leaseAlive[NC];    /* ls/LEASE: each client's current lease record */
byte highest = 0;       /* f/LOCK: the highest token accepted ... */
byte highestRevision = 0; /* ... and the revision that last wrote it */

chan net[NG] = [NC] of { byte, byte };                  /* writes in flight to each gateway: (client, token) */
chan answer[NC] = [1] of { byte };                      /* REFUSED, COMMITTED or UNKNOWN */
chan accepted = [NC * ROUNDS] of { byte, byte, byte };  /* accepted writes: (writer, token, live holder at commit) */

inline liveHolder(result) {
    if :: holder != NONE && leaseAlive[holder] -> result = holder :: else -> result = NONE fi
}

active [NC] proctype Client() {
    byte me = _pid;
    byte token, outcome;
    byte round = 0;
    do
    :: round < ROUNDS ->
        leaseAlive[me] = true;   /* a fresh lease */
        /* Acquire: one transaction; a holding whose lease ended is cleared by it (unclean release). */
        atomic { (holder == NONE || !leaseAlive[holder]) -> revision++; holder = me; holding = revision; token = revision };
        if
        :: net[0] ! me, token
        :: net[1] ! me, token
        fi;
        answer[me] ? outcome;
        atomic { if :: holder == me && holding == token -> holder = NONE :: else -> skip fi };
        leaseAlive[me] = false;  /* the lease is revoked */
        round++
    :: else -> break
    od
}

/* A lease runs out (its client paused past the TTL); its holding stays until someone clears it. */
active proctype LeaseExpiry() {
end:
    do
    :: atomic { holder != NONE && leaseAlive[holder] -> leaseAlive[holder] = false }
    od
}

proctype Gateway(byte g) {
    byte writer, token, seenHighest, seenHighestRevision, now;
    bool holderLive, committed;
end:
    do
    :: net[g] ? writer, token ->
        do
        :: /* Read a snapshot at one revision. */
            atomic {
                seenHighest = highest;
                seenHighestRevision = highestRevision;
                holderLive = holder != NONE && holding == token && leaseAlive[holder]
            };
            /* Decide on it (the CommitPoint): a refusal commits nothing. */
            if
            :: token < seenHighest || !holderLive -> answer[writer] ! REFUSED; break
            :: else -> skip
            fi;
            /* The gateway may crash here, between its check and its commit. */
            if
            :: answer[writer] ! UNKNOWN; break
            :: skip
            fi;
            /* Commit: one transaction, applied only if its compares hold. */
            atomic {
#if COMPARES == 2
                committed = (highestRevision == seenHighestRevision && holder != NONE && holding == token &&
                             leaseAlive[holder]);
#elif COMPARES == 1
                committed = highestRevision == seenHighestRevision;
#else
                committed = true;
#endif
                if
                :: committed ->
                    revision++;
                    if :: token > highest -> highest = token :: else -> skip fi;
                    highestRevision = revision;
                    liveHolder(now);
                    accepted ! writer, token, now;
                    answer[writer] ! COMMITTED
                :: else -> skip   /* a compare failed: read again */
                fi
            };
            if :: committed -> break :: else -> skip fi
        od
    od
}

init {
    atomic { run Gateway(0); run Gateway(1) }
}

/* The observer: reads the accepted writes in commit order and checks the properties on them. */
active proctype Observer() {
    byte writer, token, holderAtCommit;
    byte lastToken = 0;
end:
    do
    :: accepted ? writer, token, holderAtCommit ->
        assert(holderAtCommit == writer);   /* 1: only the live holder's writes are accepted */
        assert(token >= lastToken);         /* 2: accepted tokens never decrease */
        lastToken = token
    od
}
