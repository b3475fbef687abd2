  % for d in days:
  <h2>{{d.label}}</h2>
  % if d.empty:
  <p class="muted">Nothing scheduled.</p>
  % end
  % if d.items:
  <ul class="cal-at">
    % for s in d.items:
    <li{{!' class="over-cap"' if s.over_cap else ''}}><time datetime="{{s.at.isoformat()}}">{{s.time}}</time> {{s.item.name}}
      <span class="muted">{{s.item.state}}</span>{{' · over the daily cap' if s.over_cap else ''}}</li>
    % end
    % if d.more_items:
    <li class="muted">and {{d.more_items}} more pairs this day (all are on the status page)</li>
    % end
  </ul>
  % end
  % for q in d.queues:
  <div class="cal-queue">
    <h3><code>{{q.line}}</code></h3>
    % if q.dense:
    <p>Slots all day from {{q.first}} (more than {{dense}});
    % if q.held:
      held:
      % for s in q.held:
      <span{{!' class="over-cap"' if s.over_cap else ''}}><time datetime="{{s.at.isoformat()}}">{{s.time}}</time> {{s.item.name}}</span>{{',' if s is not q.held[-1] else ''}}
      % end
      {{f'and {q.more_held} more' if q.more_held else ''}}
    % else:
      all free.
    % end
    </p>
    % else:
    <ul>
      % for s in q.slots:
      <li{{!' class="over-cap"' if s.over_cap else ''}}><time datetime="{{s.at.isoformat()}}">{{s.time}}</time>
        {{s.item.name if s.item else 'free'}}{{' · over the daily cap' if s.over_cap else ''}}</li>
      % end
    </ul>
    % end
  </div>
  % end
  % end
