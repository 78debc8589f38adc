-- 0021: projection checkpoints and the read models of the impact report.
--
-- Read models are derived data: `starter.py rebuild-projections` empties them and replays the event
-- log from the start, producing the same rows. Only the projection runner writes them (one at a time,
-- under an advisory lock). They hold ids, stages, dates and counts: no names, no emails, no notes,
-- no free text (takeaways are kept only as counts of the terms they use).

CREATE TABLE projection_checkpoints (
    name       text        PRIMARY KEY,
    position   bigint      NOT NULL DEFAULT 0,  -- highest position applied so far (lag, display)
    snapshot   pg_snapshot,                     -- the snapshot of the last run; NULL: from the start
    events     bigint      NOT NULL DEFAULT 0,  -- events applied since the last rebuild
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Program summary: one row per program.
CREATE TABLE rm_program (
    program_id       text    PRIMARY KEY,
    name             text,
    stage            text    NOT NULL DEFAULT 'new',
    config           jsonb,                        -- the program file as configured (targets included)
    created_at       timestamptz,
    started_at       timestamptz,
    closed_at        timestamptz,
    planned_pairings integer NOT NULL DEFAULT 0,
    started_pairings integer,
    outcomes         jsonb,
    hr_as_of         date,                         -- latest HR leavers extract recorded for the program
    leavers_imports  integer NOT NULL DEFAULT 0,
    last_position    bigint  NOT NULL
);

-- Participants: role and dates only.
CREATE TABLE rm_participant (
    program_id     text NOT NULL,
    participant_id text NOT NULL,
    role           text,
    enrolled_at    timestamptz,
    withdrawn_at   timestamptz,
    left_on        date,                           -- left the company (HR leavers import)
    last_position  bigint NOT NULL,
    PRIMARY KEY (program_id, participant_id)
);

-- Pairing status: where each pairing is and what it went through.
CREATE TABLE rm_pairing (
    pairing_id           text    PRIMARY KEY,
    program_id           text,
    mentor_id            text,
    mentee_id            text,
    replaces             text,
    stage                text    NOT NULL DEFAULT 'proposed',
    proposed_at          timestamptz,
    started_at           timestamptz,
    ends_at              timestamptz,
    goals_agreed_at      timestamptz,
    goals                integer NOT NULL DEFAULT 0,
    goal_deadline_passed boolean NOT NULL DEFAULT false,
    at_risk              boolean NOT NULL DEFAULT false,
    ever_at_risk         boolean NOT NULL DEFAULT false,
    paused               boolean NOT NULL DEFAULT false,
    midpoint_opened      boolean NOT NULL DEFAULT false,
    midpoint_skipped     boolean NOT NULL DEFAULT false,
    midpoint_decision    text,
    midpoint_overridden  boolean,
    closeout_opened      boolean NOT NULL DEFAULT false,
    outcome              text,
    withdrawn_side       text,
    closed_at            timestamptz,
    held                 integer NOT NULL DEFAULT 0,
    missed               integer NOT NULL DEFAULT 0,
    version              integer NOT NULL,
    last_position        bigint  NOT NULL
);
CREATE INDEX rm_pairing_program ON rm_pairing (program_id);

-- Session log: one row per session of a pairing (ratings, never notes or topics).
CREATE TABLE rm_session (
    pairing_id    text     NOT NULL,
    session       integer  NOT NULL,
    program_id    text,
    scheduled_at  timestamptz,
    status        text     NOT NULL DEFAULT 'scheduled',  -- scheduled | rescheduled | held | missed
    resolved_at   timestamptz,
    rating_mentor smallint,
    rating_mentee smallint,
    reschedules   integer  NOT NULL DEFAULT 0,
    last_position bigint   NOT NULL,
    PRIMARY KEY (pairing_id, session)
);
CREATE INDEX rm_session_program ON rm_session (program_id);

-- Survey aggregates: how many answers had each value, per program, survey, side and question.
-- Counts only, never who answered: means, distributions and NPS all come from these.
CREATE TABLE rm_survey_counts (
    program_id text    NOT NULL,
    survey     text    NOT NULL,  -- midpoint | closeout | fit_check
    side       text    NOT NULL,  -- mentor | mentee
    question   text    NOT NULL,
    value      integer NOT NULL,
    answers    integer NOT NULL,
    PRIMARY KEY (program_id, survey, side, question, value)
);

-- Terms used in closeout takeaways: in how many responses each term appears (not the text).
CREATE TABLE rm_takeaway_terms (
    program_id text    NOT NULL,
    term       text    NOT NULL,
    responses  integer NOT NULL,
    PRIMARY KEY (program_id, term)
);
