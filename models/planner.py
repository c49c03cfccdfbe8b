"""The planner's row estimate as a SQL function (PostgreSQL): lists show 「约 N 条」 instead of counting a million rows.

dd_count_estimate(query) runs EXPLAIN (never the query itself) and answers the plan's row estimate. It is
created with the schema (create_all) and by the migration a7e5c3d1b9f2.
"""
from sqlalchemy import DDL, event

from models.base import Base

CREATE_COUNT_ESTIMATE = (
    "CREATE OR REPLACE FUNCTION dd_count_estimate(query text) RETURNS bigint LANGUAGE plpgsql AS $$ "
    "DECLARE plan json; "
    "BEGIN EXECUTE 'EXPLAIN (FORMAT JSON) ' || query INTO plan; "
    "RETURN (plan->0->'Plan'->>'Plan Rows')::bigint; END $$"
)
DROP_COUNT_ESTIMATE = "DROP FUNCTION IF EXISTS dd_count_estimate(text)"

event.listen(Base.metadata, "after_create", DDL(CREATE_COUNT_ESTIMATE).execute_if(dialect="postgresql"))
