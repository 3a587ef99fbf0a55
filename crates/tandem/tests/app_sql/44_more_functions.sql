-- jsonb_pretty, num_nulls/num_nonnulls, the |/ and @ prefix operators,
-- sha224 ... sha512.
select jsonb_pretty('{"a":{},"b":[],"c":[1,{"d":null}],"e":"x"}');
select jsonb_pretty('[]'), jsonb_pretty('5'), jsonb_pretty('{}');
select num_nonnulls(1,null,2), num_nulls(1,null), |/ 16.0, @ -5, @ -2.5, |/ 2;
select sha256('abc'::bytea), sha224(''::bytea), sha384('a'::bytea), sha512('a'::bytea);
select sha256('abc');
