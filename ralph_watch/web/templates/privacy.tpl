% rebase('base')
<article class="card policy">
  <h1>{{title}}</h1>
  % in_list = False
  % for kind, line in blocks:
  %   if kind == 'li' and not in_list:
  <ul>
  %     in_list = True
  %   elif kind != 'li' and in_list:
  </ul>
  %     in_list = False
  %   end
  %   if kind == 'h':
  <h2>{{line}}</h2>
  %   elif kind == 'li':
  <li>{{line}}</li>
  %   else:
  <p>{{line}}</p>
  %   end
  % end
  % if in_list:
  </ul>
  % end
</article>
