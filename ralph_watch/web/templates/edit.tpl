% rebase('base')
<section class="card">
  <h1>Edit {{task.video or task.key}}</h1>
  <p class="muted">Saving rewrites <code>{{rel}}</code> in the inbox{{'' if exists else ' (a new sidecar, as ralph-watch new writes it)'}};
  comments and the order of its lines are kept. The service then reads it like any edit, with the same checks.</p>
  % if problems:
  <div class="flash flash-error" role="alert">
    <p>{{heading}}</p>
    <ul>
    % for p in problems:
      <li>{{p}}</li>
    % end
    </ul>
  </div>
  % end
  <form method="post" action="/tasks/{{task.id}}/edit" class="edit">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <p><label for="title">Title (caption)</label><br>
    <textarea id="title" name="title" rows="3" cols="60" maxlength="4400">{{values.get('title', '')}}</textarea></p>
    <p><label for="privacy">Privacy</label><br>
    <select id="privacy" name="privacy">
      <option value=""{{!' selected' if not values.get('privacy') else ''}}>(config default)</option>
      % for p in privacies:
      <option value="{{p}}"{{!' selected' if values.get('privacy') == p else ''}}>{{p}}</option>
      % end
      % if values.get('privacy') and values.get('privacy') not in privacies:
      <option value="{{values['privacy']}}" selected>{{values['privacy']}}</option>
      % end
    </select></p>
    <p><label for="at">At (date and time in {{tz_name}}, e.g. 2026-12-24 18:00)</label><br>
    <input id="at" name="at" value="{{values.get('at', '')}}" size="30"></p>
    <p><label for="cron">Or cron (a repeating slot, e.g. 0 18 * * FRI)</label><br>
    <input id="cron" name="cron" value="{{values.get('cron', '')}}" size="30"></p>
    <fieldset><legend>Switches</legend>
    % for key, label in (('allow_comments', 'Allow comments'), ('allow_duet', 'Allow duet'), ('allow_stitch', 'Allow stitch'), ('ai_generated', 'AI-generated content')):
      <label><input type="checkbox" name="{{key}}" value="on"{{!' checked' if values.get(key) else ''}}> {{label}}</label><br>
    % end
    </fieldset>
    <p><label for="promotion">Promotion</label><br>
    <select id="promotion" name="promotion">
      <option value=""{{!' selected' if not values.get('promotion') else ''}}>(config default)</option>
      % for p in promotions:
      <option value="{{p}}"{{!' selected' if values.get('promotion') == p else ''}}>{{p}}</option>
      % end
    </select></p>
    <p><label for="mode">Mode</label><br>
    <select id="mode" name="mode">
      <option value=""{{!' selected' if not values.get('mode') else ''}}>(config default)</option>
      % for m in modes:
      <option value="{{m}}"{{!' selected' if values.get('mode') == m else ''}}>{{m}}</option>
      % end
    </select></p>
    <div class="actions">
      <button type="submit">Save {{rel}}</button>
      <a class="button" href="/">Back without saving</a>
    </div>
  </form>
</section>
